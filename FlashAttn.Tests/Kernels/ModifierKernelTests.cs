using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Kernels;
using FlashAttn.Kernels.Reference;
using FlashAttn.Tests.Support;
using static FlashAttn.Tests.Support.DeviceBuffers;

namespace FlashAttn.Tests.Kernels;

/// <summary>A learned relative-position bias (T5-style, clamped distance), as a user would write it: bias[h, clamp(k − q)].</summary>
public readonly struct RelativePositionBias(ArrayView<float> table, int maxDistance) : IScoreModifier
{
    public ArrayView<float> Table { get; } = table;
    public int MaxDistance { get; } = maxDistance;

    public float Apply(float score, ScorePosition at)
    {
        int distance = Math.Clamp(at.Key - at.Query, -MaxDistance, MaxDistance);
        return score + Table[at.Head * (2 * MaxDistance + 1) + distance + MaxDistance];
    }

    public float Derivative(float score, ScorePosition at) => 1f;
}

/// <summary>Document masking of packed documents, as a user would write it: a query sees keys of its own document.</summary>
public readonly struct DocumentMask(ArrayView<int> queryDocuments, ArrayView<int> keyDocuments, int seqLenQ, int seqLenK) : IMaskModifier
{
    public ArrayView<int> QueryDocuments { get; } = queryDocuments;
    public ArrayView<int> KeyDocuments { get; } = keyDocuments;
    public int SeqLenQ { get; } = seqLenQ;
    public int SeqLenK { get; } = seqLenK;

    public bool Visible(ScorePosition at) => QueryDocuments[at.Batch * SeqLenQ + at.Query] == KeyDocuments[at.Batch * SeqLenK + at.Key];
}

/// <summary>
/// Score and mask modifiers compiled into the kernels (issue 14, parts 3 and 4): softcap, ALiBi, their composition and
/// user-written structs, and dropout, forward and backward through <see cref="AttentionLauncher"/> (fp16/bf16 on the
/// tensor-core kernels, fp32 on the general FFMA ones), against the fp64 reference with
/// the same modifiers (the table's budget rule); each modifier's derivative against finite differences.
/// </summary>
[TestFixture]
public class ModifierKernelTests : TestAcceleratorFixture
{
    private static AttentionCase Case(int b, int sq, int sk, int hq, int hkv, int d, AttentionDtype dtype, bool causal, bool bottomRight, int seed,
        bool deterministic = false)
        => new(new AttentionShape(b, sq, sk, hq, hkv, d), dtype, causal, bottomRight, deterministic, seed);

    [Test]
    public void Softcap()
    {
        // fp16/bf16 calls' softcap: the hardware tanh (on a GPU tanh.approx, whose error the dtype rule must absorb), in units
        // of the cap as a softcap alone runs (the reference applies the cap itself)
        var c = Case(1, 70, 133, 4, 2, 64, AttentionDtype.Fp16, causal: true, bottomRight: true, seed: 31);
        Check(c, SoftcapInCapUnits.Hardware(0.4f, default(NoMaskModifier)));
    }

    [Test]
    public void AlibiPerHead()
    {
        var c = Case(1, 45, 90, 2, 2, 40, AttentionDtype.Bf16, causal: false, bottomRight: true, seed: 32);
        using var slopes = UploadShared(_accelerator, [0.5f, 0.125f]);
        Check(c, new AttentionModifiers<Alibi, NoMaskModifier>(new Alibi(slopes.View, 2, perBatch: false), default));
    }

    [Test]
    public void SoftcapThenAlibiPerBatchTopLeft()
    {
        var c = Case(2, 66, 40, 2, 1, 64, AttentionDtype.Fp16, causal: true, bottomRight: false, seed: 33);
        using var slopes = UploadShared(_accelerator, [0.25f, 0.0625f, 0.5f, 0.03125f]);
        var score = new ComposedScoreModifier<HardwareTanhSoftcap, Alibi>(new HardwareTanhSoftcap(0.6f), new Alibi(slopes.View, 2, perBatch: true));
        Check(c, new AttentionModifiers<ComposedScoreModifier<HardwareTanhSoftcap, Alibi>, NoMaskModifier>(score, default));
    }

    [Test]
    public void UserRelativeBiasAndDocumentMask()
    {
        var c = Case(2, 80, 80, 2, 2, 32, AttentionDtype.Bf16, causal: true, bottomRight: true, seed: 34);
        const int maxDistance = 8;
        var random = new Random(34);
        using var table = UploadShared(_accelerator, Enumerable.Range(0, 2 * (2 * maxDistance + 1)).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray());
        // two batches of packed documents of uneven lengths
        int[] documents = [.. Enumerable.Range(0, 80).Select(i => i < 23 ? 0 : i < 61 ? 1 : 2), .. Enumerable.Range(0, 80).Select(i => i < 5 ? 0 : 1)];
        using var docs = UploadShared(_accelerator, documents);
        var modifiers = new AttentionModifiers<RelativePositionBias, DocumentMask>(new RelativePositionBias(table.View, maxDistance),
            new DocumentMask(docs.View, docs.View, 80, 80));
        Check(c, modifiers);
    }

    [Test]
    public void DocumentMaskAloneWithGqa()
    {
        var c = Case(1, 96, 96, 4, 1, 48, AttentionDtype.Fp16, causal: false, bottomRight: true, seed: 35);
        int[] documents = [.. Enumerable.Range(0, 96).Select(i => i / 40)];
        using var docs = UploadShared(_accelerator, documents);
        Check(c, new AttentionModifiers<NoScoreModifier, DocumentMask>(default, new DocumentMask(docs.View, docs.View, 96, 96)));
    }

    [Test]
    public void DropoutRegeneratesTheForwardMaskInTheBackward()
    {
        var c = Case(2, 77, 101, 4, 2, 64, AttentionDtype.Fp16, causal: true, bottomRight: true, seed: 37);
        Check(c, default(AttentionModifiers<NoScoreModifier, NoMaskModifier>), new Dropout(0.3f, seed: 0x1234_5678_9ABC_DEF0, offset: 17));
    }

    [Test]
    public void DropoutWithSoftcapAndGqa()
    {
        var c = Case(1, 64, 130, 6, 2, 32, AttentionDtype.Bf16, causal: false, bottomRight: true, seed: 38);
        Check(c, new AttentionModifiers<HardwareTanhSoftcap, NoMaskModifier>(new HardwareTanhSoftcap(0.5f), default), new Dropout(0.15f, seed: 42, offset: 1UL << 33));
    }

    [Test]
    public void PhiloxMatchesTheKnownAnswers()
    {
        // Random123's known-answer vectors for philox4x32-10
        Assert.Multiple(() =>
        {
            Assert.That(Words(0, 0, 0, 0, 0, 0), Is.EqualTo(new uint[] { 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 }));
            Assert.That(Words(uint.MaxValue, uint.MaxValue, uint.MaxValue, uint.MaxValue, uint.MaxValue, uint.MaxValue),
                Is.EqualTo(new uint[] { 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd }));
            Assert.That(Words(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0),
                Is.EqualTo(new uint[] { 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 }));
        });
        static uint[] Words(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
            => [.. Enumerable.Range(0, 4).Select(w => Philox.Word(c0, c1, c2, c3, k0, k1, w))];
    }

    [Test]
    public void DropoutKeepsOneMinusPOfTheProbabilitiesAndDependsOnSeedAndOffset()
    {
        var dropout = new Dropout(0.25f, seed: 7, offset: 3);
        int kept = 0, total = 0, differsBySeed = 0, differsByOffset = 0;
        var otherSeed = new Dropout(0.25f, seed: 8, offset: 3);
        var otherOffset = new Dropout(0.25f, seed: 7, offset: 4);
        for (int b = 0; b < 2; b++)
            for (int h = 0; h < 3; h++)
                for (int i = 0; i < 64; i++)
                    for (int j = 0; j < 64; j++, total++)
                    {
                        bool keep = dropout.Keep(3, b, h, i, j);
                        kept += keep ? 1 : 0;
                        differsBySeed += keep != otherSeed.Keep(3, b, h, i, j) ? 1 : 0;
                        differsByOffset += keep != otherOffset.Keep(3, b, h, i, j) ? 1 : 0;
                    }
        Assert.Multiple(() =>
        {
            Assert.That((double)kept / total, Is.EqualTo(0.75).Within(0.01), "kept fraction");
            Assert.That((double)differsBySeed / total, Is.EqualTo(2 * 0.75 * 0.25).Within(0.02), "another seed draws an independent mask");
            Assert.That((double)differsByOffset / total, Is.EqualTo(2 * 0.75 * 0.25).Within(0.02), "another offset draws an independent mask");
        });
    }

    // ---- fp32: the general FFMA kernels (the register-tiled ones take plain attention only); shapes kept small, as the
    //      CPU emulation runs them element by element ----

    [Test]
    public void Fp32SoftcapWithGqa()
    {
        var c = Case(1, 40, 70, 4, 2, 64, AttentionDtype.Fp32, causal: true, bottomRight: true, seed: 41);
        Check(c, SoftcapInCapUnits.Accurate(0.4f, default(NoMaskModifier)));
    }

    [Test]
    public void Fp32AlibiPerHead()
    {
        var c = Case(1, 33, 50, 2, 2, 40, AttentionDtype.Fp32, causal: false, bottomRight: true, seed: 42);
        using var slopes = UploadShared(_accelerator, [0.5f, 0.125f]);
        Check(c, new AttentionModifiers<Alibi, NoMaskModifier>(new Alibi(slopes.View, 2, perBatch: false), default));
    }

    [Test]
    public void Fp32SoftcapThenAlibiPerBatchTopLeft()
    {
        var c = Case(2, 45, 30, 2, 1, 32, AttentionDtype.Fp32, causal: true, bottomRight: false, seed: 43);
        using var slopes = UploadShared(_accelerator, [0.25f, 0.0625f, 0.5f, 0.03125f]);
        var score = new ComposedScoreModifier<Softcap, Alibi>(new Softcap(0.6f), new Alibi(slopes.View, 2, perBatch: true));
        Check(c, new AttentionModifiers<ComposedScoreModifier<Softcap, Alibi>, NoMaskModifier>(score, default));
    }

    [Test]
    public void Fp32UserRelativeBiasAndDocumentMask()
    {
        var c = Case(2, 48, 48, 2, 2, 32, AttentionDtype.Fp32, causal: true, bottomRight: true, seed: 44);
        const int maxDistance = 8;
        var random = new Random(44);
        using var table = UploadShared(_accelerator, Enumerable.Range(0, 2 * (2 * maxDistance + 1)).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray());
        int[] documents = [.. Enumerable.Range(0, 48).Select(i => i < 13 ? 0 : i < 37 ? 1 : 2), .. Enumerable.Range(0, 48).Select(i => i < 5 ? 0 : 1)];
        using var docs = UploadShared(_accelerator, documents);
        var modifiers = new AttentionModifiers<RelativePositionBias, DocumentMask>(new RelativePositionBias(table.View, maxDistance),
            new DocumentMask(docs.View, docs.View, 48, 48));
        Check(c, modifiers);
    }

    [Test]
    public void Fp32DocumentMaskAloneOnFullBlocksWithGqa()
    {
        // not causal and s_k ≥ 2 tiles: key block 0 needs no causal or s_k test, so only the mask modifier can hide its keys
        var c = Case(1, 70, 100, 4, 1, 32, AttentionDtype.Fp32, causal: false, bottomRight: true, seed: 48);
        using var queryDocs = UploadShared(_accelerator, Enumerable.Range(0, 70).Select(i => i / 30).ToArray());
        using var keyDocs = UploadShared(_accelerator, Enumerable.Range(0, 100).Select(j => j / 43).ToArray());
        Check(c, new AttentionModifiers<NoScoreModifier, DocumentMask>(default, new DocumentMask(queryDocs.View, keyDocs.View, 70, 100)));
    }

    /// <summary>fp32 through the tensor-core kernels (3×TF32, what <see cref="Fp32Math.Auto"/> picks on a GPU for forwards and
    /// backwards up to d = 64) with a user score modifier, a mask modifier and dropout at once.</summary>
    [Test]
    public void Fp32OnTensorCoresWithUserModifiersAndDropout()
    {
        var c = Case(1, 40, 48, 2, 1, 32, AttentionDtype.Fp32, causal: true, bottomRight: true, seed: 49) with { Fp32Math = Fp32Math.TensorCores };
        const int maxDistance = 6;
        var random = new Random(49);
        using var table = UploadShared(_accelerator, Enumerable.Range(0, 2 * (2 * maxDistance + 1)).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray());
        int[] documents = [.. Enumerable.Range(0, 40).Select(i => i < 11 ? 0 : 1), .. Enumerable.Range(0, 48).Select(j => j < 19 ? 0 : 1)];
        using var docs = UploadShared(_accelerator, documents);
        var modifiers = new AttentionModifiers<RelativePositionBias, DocumentMask>(new RelativePositionBias(table.View, maxDistance),
            new DocumentMask(docs.View.SubView(0, 40), docs.View.SubView(40, 48), 40, 48));
        Check(c, modifiers, new Dropout(0.2f, seed: 7, offset: 3));
    }

    [Test]
    public void Fp32Dropout()
    {
        var c = Case(2, 37, 61, 2, 2, 32, AttentionDtype.Fp32, causal: true, bottomRight: true, seed: 45);
        Check(c, default(AttentionModifiers<NoScoreModifier, NoMaskModifier>), new Dropout(0.3f, seed: 0x1234_5678_9ABC_DEF0, offset: 17));
    }

    [Test]
    public void Fp32DropoutWithSoftcapAndGqa()
    {
        var c = Case(1, 40, 70, 4, 2, 32, AttentionDtype.Fp32, causal: false, bottomRight: true, seed: 46);
        Check(c, new AttentionModifiers<Softcap, NoMaskModifier>(new Softcap(0.5f), default), new Dropout(0.15f, seed: 42, offset: 1UL << 33));
    }

    [Test]
    public void Fp32DeterministicBackwardWithDropoutAndSoftcap()
    {
        // the dQ pass regenerates the dropout mask and takes the softcap's derivative on its own
        var c = Case(1, 50, 40, 2, 1, 48, AttentionDtype.Fp32, causal: true, bottomRight: false, seed: 47, deterministic: true);
        Check(c, new AttentionModifiers<Softcap, NoMaskModifier>(new Softcap(0.5f), default), new Dropout(0.2f, seed: 9, offset: 5));
    }

    [Test]
    public void DerivativesMatchFiniteDifferences()
    {
        using var slopes = UploadShared(_accelerator, [0.5f, 0.25f]);
        using var table = UploadShared(_accelerator, Enumerable.Range(0, 2 * 9).Select(i => 0.01f * i).ToArray());
        var at = new ScorePosition(0, 1, 7, 3, 9);
        Assert.Multiple(() =>
        {
            for (float s = -3f; s <= 3f; s += 0.37f)
            {
                FiniteDifference(new Softcap(0.7f), s, at);
                FiniteDifference(new HardwareTanhSoftcap(0.7f), s, at);
                FiniteDifference(new Alibi(slopes.View, 2, perBatch: false), s, at);
                FiniteDifference(new ComposedScoreModifier<Softcap, Alibi>(new Softcap(1.3f), new Alibi(slopes.View, 2, false)), s, at);
                FiniteDifference(new RelativePositionBias(table.View, 4), s, at);
            }
        });
    }

    [Test]
    public void SoftcapIsCapTimesTanhToAFewUlps()
    {
        // the kernels' tanh (a rational fit, ±1 beyond 9) against the fp64 tanh, across the range and at its edges, and
        // relative to tanh itself from 1e-6 up (log-spaced, both signs)
        var cap = new Softcap(1f);
        var at = new ScorePosition(0, 0, 0, 0, 0);
        Assert.Multiple(() =>
        {
            for (float x = 1e-6f; x < 12f; x *= 1.01f)
                foreach (float signed in new[] { x, -x })
                    Assert.That(cap.Apply(signed, at), Is.EqualTo(Math.Tanh(signed)).Within(4e-7 * Math.Abs(Math.Tanh(signed))), $"x = {signed}");
            for (float x = -12f; x <= 12f; x += 0.0173f)
                Assert.That(cap.Apply(x, at), Is.EqualTo(Math.Tanh(x)).Within(4e-7 * Math.Max(Math.Abs(Math.Tanh(x)), 0.125)), $"x = {x}");
            foreach (float x in new[] { 0f, 1e-30f, -1e-6f, 0.2499f, 0.25f, -0.2501f, 60f, -200f })
                Assert.That(cap.Apply(x, at), Is.EqualTo(Math.Tanh(x)).Within(4e-7 * Math.Max(Math.Abs(Math.Tanh(x)), 1e-30)), $"x = {x}");
            Assert.That(cap.Apply(float.PositiveInfinity, at), Is.EqualTo(1f));
            Assert.That(cap.Apply(float.NegativeInfinity, at), Is.EqualTo(-1f));
            Assert.That(cap.Apply(float.NaN, at), Is.NaN);
            Assert.That(new Softcap(30f).Apply(45f, at), Is.EqualTo(30 * Math.Tanh(1.5)).Within(30 * 3e-7));
        });
    }

    private static void FiniteDifference<TScore>(TScore modifier, float s, ScorePosition at) where TScore : struct, IScoreModifier
    {
        const float h = 1e-2f;
        double numeric = ((double)modifier.Apply(s + h, at) - modifier.Apply(s - h, at)) / (2 * h);
        Assert.That(modifier.Derivative(s, at), Is.EqualTo(numeric).Within(2e-3), $"{typeof(TScore).Name} at s = {s}");
    }

    // ---------------- running and checking ----------------

    private void Check<TScore, TMask>(AttentionCase c, AttentionModifiers<TScore, TMask> modifiers, Dropout dropout = default)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var run = new AttentionRun(c);
        var settings = c.Settings with { Dropout = dropout };
        CheckAgainstReference(run, settings, modifiers, Kernels(_accelerator, run, settings, modifiers));
    }

    /// <summary>The table's rule for O, L, dQ, dK and dV against the fp64 reference with the same modifiers (and dropout).</summary>
    internal static void CheckAgainstReference<TScore, TMask>(AttentionRun run, AttentionSettings settings, AttentionModifiers<TScore, TMask> modifiers,
        AttentionResult ours) where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var s = run.Case.Shape;
        var reference = ReferenceModifiers.Of(modifiers, settings, s.HeadsQ);
        double[] q = Widen(run.Q), k = Widen(run.K), v = Widen(run.V);
        var fp64 = (O: new double[q.Length], L: new double[(long)s.Batch * s.HeadsQ * s.SeqLenQ], Dq: new double[q.Length], Dk: new double[k.Length], Dv: new double[k.Length]);
        AttentionReference.Forward(s, settings, q, k, v, fp64.O, fp64.L, reference);
        AttentionReference.Backward(s, settings, q, k, v, Widen(run.DOutput), fp64.Dq, fp64.Dk, fp64.Dv, reference);
        float[] no = new float[q.Length], nl = new float[fp64.L.Length], ndq = new float[q.Length], ndk = new float[k.Length], ndv = new float[k.Length];
        NaiveAttention.Run(s, settings, run.Round, run.Q, run.K, run.V, run.DOutput, no, nl, ndq, ndk, ndv, reference);
        AttentionKernelTests.Check("O", ours.Output, Widen(no), fp64.O, AttentionKernelTests.ForwardFactor);
        AttentionKernelTests.Check("L", ours.Lse, Widen(nl), fp64.L, AttentionKernelTests.ForwardFactor);
        AttentionKernelTests.Check("dQ", ours.Dq, Widen(ndq), fp64.Dq, AttentionKernelTests.GradientFactor);
        AttentionKernelTests.Check("dK", ours.Dk, Widen(ndk), fp64.Dk, AttentionKernelTests.GradientFactor);
        AttentionKernelTests.Check("dV", ours.Dv, Widen(ndv), fp64.Dv, AttentionKernelTests.GradientFactor);
    }

    /// <summary>Forward and backward of the case through <see cref="AttentionLauncher"/> with <paramref name="modifiers"/>, in its dtype.</summary>
    internal static AttentionResult Kernels<TScore, TMask>(Accelerator accelerator, AttentionRun run, AttentionSettings settings,
        AttentionModifiers<TScore, TMask> modifiers) where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => run.Case.Dtype switch
        {
            AttentionDtype.Fp16 => Kernels(accelerator, run, settings, modifiers, x => (Half)x, x => (float)x),
            AttentionDtype.Bf16 => Kernels(accelerator, run, settings, modifiers, x => (BFloat16)x, x => x),
            _ => Kernels(accelerator, run, settings, modifiers, x => x, x => x),
        };

    private static AttentionResult Kernels<T, TScore, TMask>(Accelerator accelerator, AttentionRun run, AttentionSettings settings,
        AttentionModifiers<TScore, TMask> modifiers, Func<float, T> narrow, Func<T, float> widen)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var s = run.Case.Shape;
        using var q = Upload(accelerator, run.Q, narrow);
        using var k = Upload(accelerator, run.K, narrow);
        using var v = Upload(accelerator, run.V, narrow);
        using var dOut = Upload(accelerator, run.DOutput, narrow);
        using var o = accelerator.Allocate<T>(run.Q.Length);
        using var lse = accelerator.Allocate<float>((long)s.Batch * s.HeadsQ * s.SeqLenQ);
        using var dq = accelerator.Allocate<T>(run.Q.Length);
        using var dk = accelerator.Allocate<T>(run.K.Length);
        using var dv = accelerator.Allocate<T>(run.K.Length);
        AttentionLauncher.Forward(accelerator, s, settings, modifiers, q.View, k.View, v.View, o.View, lse.View);
        AttentionLauncher.Backward(accelerator, s, settings, modifiers, q.View, k.View, v.View, o.View, dOut.View, lse.View, dq.View, dk.View, dv.View);
        return new AttentionResult { Output = Download(o, widen), Lse = Download(lse, x => x), Dq = Download(dq, widen), Dk = Download(dk, widen), Dv = Download(dv, widen) };
    }
}
