using FlashAttn.Kernels;
using FlashAttn.Tests.Kernels;
using PrefixLmMask = FlashAttn.Tests.Api.PrefixLmMask;

namespace FlashAttn.Tests.Cpu;

/// <summary>
/// Block sparsity on the CPU path (issue 14, part 5), through the public API on <see cref="Device.Cpu(int)"/>: attention
/// with a block mask equals attention without it (forward and backward; the skipped tiles only ever added exact zeros),
/// empty tiles are never read, and a block mask of another shape is refused.
/// </summary>
[TestFixture]
public class CpuBlockMaskTests
{
    private const int Batch = 2, SeqLenQ = 200, SeqLenK = 260, HeadsQ = 4, HeadsKV = 2, HeadDim = 32;

    public enum MaskKind
    {
        /// <summary>Two documents per sequence, split differently per batch; causal.</summary>
        Documents,
        /// <summary>Prefix-LM (prefixes per batch), not causal: the mask's own diagonal follows the alignment.</summary>
        PrefixLm,
    }

    // one worker: the backward's partition is one range either way, so every result is bitwise the same; two workers:
    // the partition (which counts only the tiles computed) differs with the block mask, so dQ's partials sum in another order
    [TestCase(AttentionDtype.Fp32, MaskKind.Documents, CausalAlignment.BottomRight, 1)]
    [TestCase(AttentionDtype.Fp32, MaskKind.Documents, CausalAlignment.TopLeft, 1)]
    [TestCase(AttentionDtype.Bf16, MaskKind.Documents, CausalAlignment.BottomRight, 1)]
    [TestCase(AttentionDtype.Bf16, MaskKind.Documents, CausalAlignment.TopLeft, 1)]
    [TestCase(AttentionDtype.Fp32, MaskKind.PrefixLm, CausalAlignment.TopLeft, 1)]
    [TestCase(AttentionDtype.Bf16, MaskKind.PrefixLm, CausalAlignment.BottomRight, 1)]
    [TestCase(AttentionDtype.Fp32, MaskKind.Documents, CausalAlignment.BottomRight, 2)]
    [TestCase(AttentionDtype.Bf16, MaskKind.PrefixLm, CausalAlignment.TopLeft, 2)]
    public void WithTheBlockMaskEqualsWithout(AttentionDtype dtype, MaskKind kind, CausalAlignment alignment, int threads)
    {
        using var device = Device.Cpu(threads);
        if (dtype == AttentionDtype.Fp32) Compare<float>(device, kind, alignment, threads, x => x, x => x, dqTolerance: 1e-6);
        else Compare<BFloat16>(device, kind, alignment, threads, x => (BFloat16)x, x => x, dqTolerance: 1.0 / 128);
    }

    [TestCase(AttentionDtype.Fp32)]
    [TestCase(AttentionDtype.Bf16)]
    public void EmptyTilesAreNeverRead(AttentionDtype dtype)
    {
        if (dtype == AttentionDtype.Fp32) NeverRead<float>(x => x, x => x);
        else NeverRead<BFloat16>(x => (BFloat16)x, x => x);
    }

    [Test]
    public void ABlockMaskOfAnotherShapeIsRefused()
    {
        using var device = Device.Cpu(1);
        var mask = new KeyLimitMask(70);
        using var blocks = FlashAttention.CreateBlockMask(device, mask, batch: 1, headsQ: 1, seqLenQ: 100, seqLenK: 130, perBatch: false);
        using var q = DeviceTensor.Zeros<float>(device, 1, 100, 1, 16);
        using var k = DeviceTensor.Zeros<float>(device, 1, 200, 1, 16);
        var error = Assert.Throws<ArgumentException>(() => FlashAttention.Forward(q, k, k,
            new AttentionModifiers<NoScoreModifier, KeyLimitMask>(default, mask, blocks.Mask), new AttentionOptions()).Dispose(),
            "a mask built for s_k = 130 on a call with s_k = 200");
        Assert.That(error!.ParamName, Is.EqualTo("modifiers"));
    }

    private static void Compare<T>(Device device, MaskKind kind, CausalAlignment alignment, int threads, Func<float, T> narrow, Func<T, float> widen,
        double dqTolerance) where T : unmanaged
    {
        var random = new Random(61);
        T[] Values(int n) => [.. Enumerable.Range(0, n).Select(_ => narrow((float)(random.NextDouble() * 2 - 1)))];
        using var q = DeviceTensor.Upload<T>(device, Values(Batch * SeqLenQ * HeadsQ * HeadDim), Batch, SeqLenQ, HeadsQ, HeadDim);
        using var k = DeviceTensor.Upload<T>(device, Values(Batch * SeqLenK * HeadsKV * HeadDim), Batch, SeqLenK, HeadsKV, HeadDim);
        using var v = DeviceTensor.Upload<T>(device, Values(Batch * SeqLenK * HeadsKV * HeadDim), Batch, SeqLenK, HeadsKV, HeadDim);
        using var dOut = DeviceTensor.Upload<T>(device, Values(Batch * SeqLenQ * HeadsQ * HeadDim), Batch, SeqLenQ, HeadsQ, HeadDim);
        var options = new AttentionOptions { Causal = kind == MaskKind.Documents, CausalAlignment = alignment, ReturnLse = true };
        int offset = alignment == CausalAlignment.BottomRight ? SeqLenK - SeqLenQ : 0;
        // documents by position on the diagonal's scale: key j and query i (at key i + offset) split at 130 and 70
        using var queryDocuments = DeviceTensor.Upload<int>(device,
            [.. Enumerable.Range(0, Batch * SeqLenQ).Select(x => x % SeqLenQ + offset < (x < SeqLenQ ? 130 : 70) ? 0 : 1)], Batch * SeqLenQ);
        using var keyDocuments = DeviceTensor.Upload<int>(device,
            [.. Enumerable.Range(0, Batch * SeqLenK).Select(x => x % SeqLenK < (x < SeqLenK ? 130 : 70) ? 0 : 1)], Batch * SeqLenK);
        using var prefixes = DeviceTensor.Upload<int>(device, [40, 150], Batch);
        if (kind == MaskKind.Documents)
            Compare(device, new DocumentMask(queryDocuments.View, keyDocuments.View, SeqLenQ, SeqLenK), q, k, v, dOut, options, threads, widen, dqTolerance);
        else
            Compare(device, new PrefixLmMask(prefixes.View), q, k, v, dOut, options, threads, widen, dqTolerance);
    }

    private static void Compare<T, TMask>(Device device, TMask mask, DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> dOut,
        AttentionOptions options, int threads, Func<T, float> widen, double dqTolerance) where T : unmanaged where TMask : struct, IMaskModifier
    {
        using var blocks = FlashAttention.CreateBlockMask(device, mask, Batch, HeadsQ, SeqLenQ, SeqLenK, perBatch: true, perHead: false, options.CausalAlignment);
        byte[] classes = blocks.ToArray();
        Assert.That(classes, Has.Some.EqualTo(BlockMask.Empty).And.Some.EqualTo(BlockMask.Full), "the mask empties some tiles and fills others");
        var with = Run(dOut, q, k, v, new AttentionModifiers<NoScoreModifier, TMask>(default, mask, blocks.Mask), options, widen);
        var without = Run(dOut, q, k, v, new AttentionModifiers<NoScoreModifier, TMask>(default, mask), options, widen);
        Assert.Multiple(() =>
        {
            Assert.That(with.O, Is.EqualTo(without.O), "O");
            Assert.That(with.Lse, Is.EqualTo(without.Lse), "L");
            Assert.That(with.Dk, Is.EqualTo(without.Dk), "dK");
            Assert.That(with.Dv, Is.EqualTo(without.Dv), "dV");
            if (threads == 1) Assert.That(with.Dq, Is.EqualTo(without.Dq), "dQ");
            else // one assertion for the worst element (a failing one per element would take minutes)
                Assert.That(with.Dq.Zip(without.Dq, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(b))).Max(), Is.LessThanOrEqualTo(dqTolerance),
                    "dQ (worst deviation relative to max(1, |dQ|))");
        });
    }

    private static (float[] O, float[] Lse, float[] Dq, float[] Dk, float[] Dv) Run<T, TMask>(DeviceTensor<T> dOut, DeviceTensor<T> q, DeviceTensor<T> k,
        DeviceTensor<T> v, AttentionModifiers<NoScoreModifier, TMask> modifiers, AttentionOptions options, Func<T, float> widen)
        where T : unmanaged where TMask : struct, IMaskModifier
    {
        using var forward = FlashAttention.Forward(q, k, v, modifiers, options);
        using var gradients = FlashAttention.Backward(dOut, q, k, v, forward.Output, forward.Lse!, modifiers, options);
        float[] Down(DeviceTensor<T> t) => Array.ConvertAll(t.ToArray(), x => widen(x));
        return (Down(forward.Output), forward.Lse!.ToArray(), Down(gradients.DQ), Down(gradients.DK), Down(gradients.DV));
    }

    private static void NeverRead<T>(Func<float, T> narrow, Func<T, float> widen) where T : unmanaged
    {
        // keys from 128 on are hidden from every query, and their K and V rows are NaN: a pass that visits their tiles
        // computes 0 · NaN = NaN in P·V (and in dP for the backward); one that skips them (whole 64-key blocks, empty) never sees them
        const int s = 100, sk = 200, h = 2, d = 32, limit = 128;
        using var device = Device.Cpu(2);
        var random = new Random(62);
        T[] Values(int rows, int hidden) => [.. Enumerable.Range(0, rows * h * d)
            .Select(x => narrow(x / (h * d) >= hidden ? float.NaN : (float)(random.NextDouble() - 0.5)))];
        using var q = DeviceTensor.Upload<T>(device, Values(s, s), 1, s, h, d);
        using var k = DeviceTensor.Upload<T>(device, Values(sk, limit), 1, sk, h, d);
        using var v = DeviceTensor.Upload<T>(device, Values(sk, limit), 1, sk, h, d);
        using var dOut = DeviceTensor.Upload<T>(device, Values(s, s), 1, s, h, d);
        var mask = new KeyLimitMask(limit);
        using var blocks = FlashAttention.CreateBlockMask(device, mask, batch: 1, headsQ: h, seqLenQ: s, seqLenK: sk, perBatch: false);
        var options = new AttentionOptions { ReturnLse = true };
        var with = Run(dOut, q, k, v, new AttentionModifiers<NoScoreModifier, KeyLimitMask>(default, mask, blocks.Mask), options, widen);
        Assert.Multiple(() =>
        {
            Assert.That(with.O, Has.All.Not.NaN, "O with the block mask");
            Assert.That(with.Lse, Has.All.Not.NaN, "L");
            Assert.That(with.Dq, Has.All.Not.NaN, "dQ");
            Assert.That(with.Dk, Has.All.Not.NaN, "dK");
            Assert.That(with.Dv, Has.All.Not.NaN, "dV");
            Assert.That(with.Dk.Skip(limit * h * d), Has.All.Zero, "dK of the hidden keys");
            Assert.That(with.Dv.Skip(limit * h * d), Has.All.Zero, "dV of the hidden keys");
        });
        var without = Run(dOut, q, k, v, new AttentionModifiers<NoScoreModifier, KeyLimitMask>(default, mask), options, widen);
        Assert.That(without.O, Has.Some.NaN, "without it the hidden NaN values are read (0 · NaN)");
    }
}
