using FlashAttn.Kernels;
using FlashAttn.Kernels.Reference;
using FlashAttn.Tests.Api.Sequences;
using FlashAttn.Tests.Kernels;
using static FlashAttn.Tests.Api.Sequences.SequenceTestSupport;

namespace FlashAttn.Tests.Api;

/// <summary>
/// Softcap, ALiBi, dropout and user score/mask modifiers through the public dense API (issue 14), on the CPU path and on
/// the GPU kernels run by the emulator (fp16/bf16 on the tensor-core kernels, fp32 on the FFMA ones), forward and backward
/// against the fp64 reference with the same modifiers and flash-attn's budget rule.
/// </summary>
public class ModifierOptionsTests
{
    private static readonly AttentionShape Small = new(2, 37, 61, 2, 1, 32);

    [TestCase(SequenceDevice.Cpu, AttentionDtype.Fp32, true)]
    [TestCase(SequenceDevice.Cpu, AttentionDtype.Bf16, false)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp16, true)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp32, true)]
    public void Softcap(SequenceDevice where, AttentionDtype dtype, bool causal)
    {
        var c = Case(Small, dtype, causal, bottomRight: true);
        using var device = Create(where);
        var options = OptionsOf(c) with { Softcap = 0.5f };
        Check(device, c, Plain, options, new AttentionModifiers<Softcap, NoMaskModifier>(new Softcap(0.5f), default));
    }

    [TestCase(SequenceDevice.Cpu, AttentionDtype.Fp32, false)]
    [TestCase(SequenceDevice.Cpu, AttentionDtype.Fp16, true)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Bf16, false)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp16, true)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp32, true)]
    public void Alibi(SequenceDevice where, AttentionDtype dtype, bool perBatch)
    {
        var c = Case(Small, dtype, causal: !perBatch, bottomRight: perBatch);
        using var device = Create(where);
        using var slopes = perBatch ? DeviceTensor.Upload<float>(device, [0.5f, 0.125f, 0.25f, 0.0625f], 2, 2)
            : DeviceTensor.Upload<float>(device, [0.25f, 0.0625f], 2);
        var options = OptionsOf(c) with { AlibiSlopes = slopes };
        Check(device, c, Plain, options, new AttentionModifiers<Alibi, NoMaskModifier>(new Alibi(slopes.View, 2, perBatch), default));
    }

    /// <summary>The documented order: softcap, then ALiBi, then the user's score modifier; with a user mask.</summary>
    [TestCase(SequenceDevice.Cpu, AttentionDtype.Fp32)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Bf16)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp32)]
    public void SoftcapThenAlibiThenUserBiasWithUserMask(SequenceDevice where, AttentionDtype dtype)
    {
        var c = Case(Small, dtype, causal: false, bottomRight: false);
        using var device = Create(where);
        using var slopes = DeviceTensor.Upload<float>(device, [0.25f, 0.0625f], 2);
        const int maxDistance = 6;
        var random = new Random(5);
        using var table = DeviceTensor.Upload<float>(device, [.. Enumerable.Range(0, 2 * (2 * maxDistance + 1)).Select(_ => (float)(random.NextDouble() - 0.5))],
            2 * (2 * maxDistance + 1));
        using var documents = DeviceTensor.Upload<int>(device, [.. Enumerable.Range(0, 2 * 61).Select(i => i % 61 < 20 + i / 61 * 9 ? 0 : 1)], 2 * 61);
        var user = new AttentionModifiers<RelativePositionBias, DocumentMask>(new RelativePositionBias(table.View, maxDistance),
            new DocumentMask(documents.View, documents.View, 37, 61));
        var options = OptionsOf(c) with { Softcap = 0.8f, AlibiSlopes = slopes };
        var expected = new AttentionModifiers<ComposedScoreModifier<ComposedScoreModifier<Softcap, Alibi>, RelativePositionBias>, DocumentMask>(
            new(new(new Softcap(0.8f), new Alibi(slopes.View, 2, false)), user.Score), user.Mask);
        Check(device, c, user, options, expected);
    }

    [TestCase(SequenceDevice.Cpu, AttentionDtype.Fp32)]
    [TestCase(SequenceDevice.Cpu, AttentionDtype.Bf16)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp16)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp32)]
    public void UserPrefixLmMask(SequenceDevice where, AttentionDtype dtype)
    {
        var c = Case(new AttentionShape(2, 50, 50, 2, 2, 16), dtype, causal: false, bottomRight: true);
        using var device = Create(where);
        using var prefixes = DeviceTensor.Upload<int>(device, [13, 0], 2);
        var user = new AttentionModifiers<NoScoreModifier, PrefixLmMask>(default, new PrefixLmMask(prefixes.View));
        Check(device, c, user, OptionsOf(c), user);
    }

    /// <summary>Dropout forward and backward, the reference masked with <see cref="FlashAttention.DropoutMask"/>: the kernels' mask.</summary>
    [TestCase(SequenceDevice.Cpu, AttentionDtype.Fp32, true)]
    [TestCase(SequenceDevice.Cpu, AttentionDtype.Fp16, false)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Bf16, true)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp32, true)]
    public void DropoutMatchesTheDropoutMask(SequenceDevice where, AttentionDtype dtype, bool withSoftcap)
    {
        var c = Case(Small, dtype, causal: true, bottomRight: true);
        using var device = Create(where);
        var dropout = new Dropout(0.2f, seed: 0xDEAD_BEEF_0000_1234, offset: 5);
        var options = OptionsOf(c) with { Dropout = dropout, Softcap = withSoftcap ? 0.7f : null };
        var s = c.Shape;
        bool[] mask = FlashAttention.DropoutMask(dropout, s.Batch, s.HeadsQ, s.SeqLenQ, s.SeqLenK);
        var reference = (withSoftcap ? ReferenceModifiers.Of(new AttentionModifiers<Softcap, NoMaskModifier>(new Softcap(0.7f), default))
            : null) ?? new ReferenceModifiers(null, null, null);
        reference = reference with
        {
            DropoutFactor = at => mask[(((long)at.Batch * s.HeadsQ + at.Head) * s.SeqLenQ + at.Query) * s.SeqLenK + at.Key] ? dropout.KeptScale : 0f,
        };
        Run(device, c, Plain, options, reference);
    }

    [Test]
    public void DropoutMaskKeepsOneMinusPAndIsAllTrueWithoutDropout()
    {
        bool[] mask = FlashAttention.DropoutMask(new Dropout(0.3f, 11, 0), 2, 3, 40, 50);
        Assert.Multiple(() =>
        {
            Assert.That(mask, Has.Length.EqualTo(2 * 3 * 40 * 50));
            Assert.That(mask.Count(x => x) / (double)mask.Length, Is.EqualTo(0.7).Within(0.02));
            Assert.That(FlashAttention.DropoutMask(default, 1, 2, 3, 4), Is.All.True);
        });
    }

    /// <summary>ForwardForTraining keeps the modifiers and the options (dropout's seed too) for its backward.</summary>
    [TestCase(SequenceDevice.Cpu, AttentionDtype.Fp32)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp16)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp32)]
    public void TrainingAttentionKeepsModifiersForItsBackward(SequenceDevice where, AttentionDtype dtype)
    {
        switch (dtype)
        {
            case AttentionDtype.Fp16: Training<Half>(where, dtype); break;
            default: Training<float>(where, dtype); break;
        }
    }

    private static void Training<T>(SequenceDevice where, AttentionDtype dtype) where T : unmanaged
    {
        var c = Case(new AttentionShape(1, 30, 45, 2, 1, 16), dtype, causal: true, bottomRight: true);
        var run = new AttentionRun(c);
        var s = c.Shape;
        using var device = Create(where);
        using var prefixes = DeviceTensor.Upload<int>(device, [9], 1);
        var user = new AttentionModifiers<NoScoreModifier, PrefixLmMask>(default, new PrefixLmMask(prefixes.View));
        var options = OptionsOf(c) with { Softcap = 0.6f, Dropout = new Dropout(0.1f, 3, 4) };
        using var q = Upload<T>(device, run.Q, s.Batch, s.SeqLenQ, s.HeadsQ, s.HeadDim);
        using var k = Upload<T>(device, run.K, s.Batch, s.SeqLenK, s.HeadsKV, s.HeadDim);
        using var v = Upload<T>(device, run.V, s.Batch, s.SeqLenK, s.HeadsKV, s.HeadDim);
        using var dOut = Upload<T>(device, run.DOutput, s.Batch, s.SeqLenQ, s.HeadsQ, s.HeadDim);
        using var training = FlashAttention.ForwardForTraining(q, k, v, user, options);
        using var gradients = training.Backward(dOut);
        using var direct = FlashAttention.Forward(q, k, v, user, options with { ReturnLse = true });
        using var directGradients = FlashAttention.Backward(dOut, q, k, v, direct.Output, direct.Lse!, user, options);
        Assert.Multiple(() =>
        {
            Assert.That(Download(training.Output), Is.EqualTo(Download(direct.Output)), "output");
            Assert.That(Download(gradients.DQ), Is.EqualTo(Download(directGradients.DQ)), "dQ");
            Assert.That(Download(gradients.DK), Is.EqualTo(Download(directGradients.DK)), "dK");
            Assert.That(Download(gradients.DV), Is.EqualTo(Download(directGradients.DV)), "dV");
        });
        // and the modifiers did act: plain attention differs
        using var plain = FlashAttention.Forward(q, k, v, OptionsOf(c));
        Assert.That(Download(plain.Output), Is.Not.EqualTo(Download(training.Output)));
    }

    /// <summary>fp16/bf16 calls' softcap is the hardware tanh (flash-attn's form), fp32's the accurate one, alone and before
    /// ALiBi and a user modifier: the type the kernels are compiled for. Alone it runs in units of the cap (the kernels fold
    /// 1/cap and cap into their scales); before others in the scores' own units.</summary>
    [TestCase(true, false, typeof(TanhInCapUnits), 0.5f)]
    [TestCase(false, false, typeof(AccurateTanhInCapUnits), 0.5f)]
    [TestCase(true, true, typeof(ComposedScoreModifier<ComposedScoreModifier<HardwareTanhSoftcap, Alibi>, RelativePositionBias>), 1f)]
    [TestCase(false, true, typeof(ComposedScoreModifier<ComposedScoreModifier<Softcap, Alibi>, RelativePositionBias>), 1f)]
    public void SoftcapTakesTheHardwareTanhInHalfPrecision(bool halfPrecision, bool withAlibiAndUser, Type expected, float unit)
    {
        using var device = Create(SequenceDevice.Cpu);
        using var slopes = DeviceTensor.Upload<float>(device, [0.25f, 0.0625f], 2);
        var options = new AttentionOptions { Softcap = 0.5f, AlibiSlopes = withAlibiAndUser ? slopes : null };
        var recorder = new ScoreTypeRecorder(device, halfPrecision);
        if (withAlibiAndUser)
            Dispatch.BuiltInModifiers.Compose(options, 2, new AttentionModifiers<RelativePositionBias, NoMaskModifier>(new RelativePositionBias(slopes.View, 0), default), recorder);
        else
            Dispatch.BuiltInModifiers.Compose(options, 2, default(AttentionModifiers<NoScoreModifier, NoMaskModifier>), recorder);
        Assert.Multiple(() =>
        {
            Assert.That(ScoreTypeRecorder.Last, Is.EqualTo(expected));
            Assert.That(ScoreTypeRecorder.LastUnit, Is.EqualTo(unit));
        });
    }

    /// <summary>A call that records the score modifier type and unit it is given instead of launching.</summary>
    private readonly record struct ScoreTypeRecorder(Device Device, bool HalfPrecision) : Dispatch.IModifiedCall
    {
        [ThreadStatic] public static Type? Last;
        [ThreadStatic] public static float LastUnit;

        public void Run<TScore, TMask>(AttentionModifiers<TScore, TMask> modifiers) where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
            => (Last, LastUnit) = (typeof(TScore), modifiers.ScoreUnit);
    }

    [Test]
    public void NoOpModifiersKeepThePlainPath()
    {
        Assert.Multiple(() =>
        {
            Assert.That(FlashAttn.Cpu.CpuModifiers<NoScoreModifier, NoMaskModifier>.ScoresModified, Is.False);
            Assert.That(new FlashAttn.Cpu.CpuModifiers<NoScoreModifier, NoMaskModifier>(default, default, 2, 0, FlashAttn.Cpu.CpuTiles.None).Acts, Is.False);
            Assert.That(FlashAttn.Cpu.CpuModifiers<Softcap, NoMaskModifier>.ScoresModified, Is.True);
            Assert.That(FlashAttn.Cpu.CpuModifiers<NoScoreModifier, PrefixLmMask>.ScoresDifferentiated, Is.False);
        });
    }

    // ---------------- running and checking ----------------

    private static AttentionModifiers<NoScoreModifier, NoMaskModifier> Plain => default;

    private static AttentionCase Case(AttentionShape shape, AttentionDtype dtype, bool causal, bool bottomRight)
        => new(shape, dtype, causal, bottomRight, Deterministic: false, Seed: 41);

    private static AttentionOptions OptionsOf(AttentionCase c) => new()
    {
        Causal = c.Causal, CausalAlignment = c.BottomRight ? CausalAlignment.BottomRight : CausalAlignment.TopLeft,
    };

    /// <summary>Runs <paramref name="user"/> with <paramref name="options"/> and checks against the reference of <paramref name="expected"/>.</summary>
    private static void Check<TScore, TMask, TExpectedScore, TExpectedMask>(Device device, AttentionCase c, AttentionModifiers<TScore, TMask> user,
        AttentionOptions options, AttentionModifiers<TExpectedScore, TExpectedMask> expected)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        where TExpectedScore : struct, IScoreModifier where TExpectedMask : struct, IMaskModifier
        => Run(device, c, user, options, ReferenceModifiers.Of(expected, c.Settings with { Dropout = options.Dropout }, c.Shape.HeadsQ));

    private static void Run<TScore, TMask>(Device device, AttentionCase c, AttentionModifiers<TScore, TMask> user, AttentionOptions options,
        ReferenceModifiers? reference)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var run = new AttentionRun(c);
        var ours = c.Dtype switch
        {
            AttentionDtype.Fp16 => Api<Half, TScore, TMask>(device, run, user, options),
            AttentionDtype.Bf16 => Api<BFloat16, TScore, TMask>(device, run, user, options),
            _ => Api<float, TScore, TMask>(device, run, user, options),
        };
        var s = c.Shape;
        var settings = c.Settings with { Dropout = options.Dropout };
        double[] q = Widen(run.Q), k = Widen(run.K), v = Widen(run.V);
        var (o, l, dq, dk, dv) = (new double[q.Length], new double[(long)s.Batch * s.HeadsQ * s.SeqLenQ], new double[q.Length],
            new double[k.Length], new double[k.Length]);
        AttentionReference.Forward(s, settings, q, k, v, o, l, reference);
        AttentionReference.Backward(s, settings, q, k, v, Widen(run.DOutput), dq, dk, dv, reference);
        var (no, nl, ndq, ndk, ndv) = (new float[q.Length], new float[l.Length], new float[q.Length], new float[k.Length], new float[k.Length]);
        NaiveAttention.Run(s, settings, run.Round, run.Q, run.K, run.V, run.DOutput, no, nl, ndq, ndk, ndv, reference);
        SequenceTestSupport.Check("O", ours.Output, Widen(no), o, gradient: false);
        SequenceTestSupport.Check("L", ours.Lse, Widen(nl), l, gradient: false);
        SequenceTestSupport.Check("dQ", ours.Dq, Widen(ndq), dq, gradient: true);
        SequenceTestSupport.Check("dK", ours.Dk, Widen(ndk), dk, gradient: true);
        SequenceTestSupport.Check("dV", ours.Dv, Widen(ndv), dv, gradient: true);
    }

    private static Kernels.AttentionResult Api<T, TScore, TMask>(Device device, AttentionRun run, AttentionModifiers<TScore, TMask> user,
        AttentionOptions options)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var s = run.Case.Shape;
        using var q = Upload<T>(device, run.Q, s.Batch, s.SeqLenQ, s.HeadsQ, s.HeadDim);
        using var k = Upload<T>(device, run.K, s.Batch, s.SeqLenK, s.HeadsKV, s.HeadDim);
        using var v = Upload<T>(device, run.V, s.Batch, s.SeqLenK, s.HeadsKV, s.HeadDim);
        using var dOut = Upload<T>(device, run.DOutput, s.Batch, s.SeqLenQ, s.HeadsQ, s.HeadDim);
        using var forward = FlashAttention.Forward(q, k, v, user, options with { ReturnLse = true });
        using var gradients = FlashAttention.Backward(dOut, q, k, v, forward.Output, forward.Lse!, user, options);
        return new Kernels.AttentionResult
        {
            Output = Download(forward.Output), Lse = Download(forward.Lse!),
            Dq = Download(gradients.DQ), Dk = Download(gradients.DK), Dv = Download(gradients.DV),
        };
    }
}
