using FlashAttn.Bench.Memory;
using FlashAttn.Bench.Results;
using FlashAttn.Kernels;

namespace FlashAttn.Tests.Bench;

/// <summary>The memory accounting against hand-worked sums and against what the API really allocates; the limit search.</summary>
public class MemoryAccountingTests
{
    // b = 2, s = 8, h = 4, d = 16: N = 1024 elements per tensor, 64 rows, 512 scores.
    private static readonly AttentionShape Shape = new(2, 8, 8, 4, 4, 16);
    private static readonly AttentionSettings Settings = new(0.25f, Causal: false);

    [Test]
    public void ForwardHoldsQKVOutputAndLse()
        => Assert.That(MemoryAccounting.Ours(AttentionPass.Forward, Shape, Settings, elementBytes: 2), Is.EqualTo(4 * 1024 * 2 + 64 * 4));

    [Test]
    public void ForwardBackwardAddsDOutTheGradientsAndTheLaunchersWorkspace()
        => Assert.That(MemoryAccounting.Ours(AttentionPass.ForwardBackward, Shape, Settings, elementBytes: 2),
            Is.EqualTo(8 * 1024 * 2 + 64 * 4 + AttentionLauncher.BackwardWorkspaceBytes(Shape, Settings, elementBytes: 2)));

    [TestCase("fwd", 4 * 1024 * 2 + 2 * 512 * 2)]
    [TestCase("fwd_bwd", 8 * 1024 * 2 + 4 * 512 * 2)]
    public void NaiveAddsTheScoreMatrices(string pass, long expected)
        => Assert.That(MemoryAccounting.Naive(AttentionPasses.Parse(pass), Shape, elementBytes: 2), Is.EqualTo(expected));

    [Test]
    public void NaiveGrowsQuadraticallyOursLinearly()
    {
        var longer = Shape with { SeqLenQ = 8 * Shape.SeqLenQ, SeqLenK = 8 * Shape.SeqLenK };
        double ours = (double)MemoryAccounting.Ours(AttentionPass.ForwardBackward, longer, Settings, 4) / MemoryAccounting.Ours(AttentionPass.ForwardBackward, Shape, Settings, 4);
        double naive = (double)MemoryAccounting.Naive(AttentionPass.ForwardBackward, longer, 4) / MemoryAccounting.Naive(AttentionPass.ForwardBackward, Shape, 4);
        Assert.Multiple(() =>
        {
            Assert.That(ours, Is.EqualTo(8).Within(1e-9));
            Assert.That(naive, Is.GreaterThan(2 * ours), "the score matrices grow 64×");
        });
    }

    [TestCase(DType.Float32, false)]
    [TestCase(DType.Float32, true)]
    [TestCase(DType.BFloat16, true)]
    public void TheApisRealPeakOnTheCpuEqualsTheAccounting(DType dtype, bool backward)
    {
        var shape = new AttentionShape(1, 16, 16, 2, 2, 16);
        using var device = Device.CpuEmulator();
        long peak = ApiMemoryProbe.Run(device, dtype, shape, backward).TrackedPeakBytes;
        var pass = backward ? AttentionPass.ForwardBackward : AttentionPass.Forward;
        Assert.That(peak, Is.EqualTo(MemoryAccounting.Ours(pass, shape, Settings, DTypes.SizeOf(dtype))));
    }

    [TestCase(886_000, 885_760)] // 865 · 1024
    [TestCase(1024, 1024)]
    [TestCase(1023, 0)]
    [TestCase(int.MaxValue, 1_047_552)] // everything fits: the bound, rounded down to the step
    public void TheSearchFindsTheLargestMultipleThatFits(int limit, int expected)
    {
        int probes = 0;
        int found = LargestSeqLenSearch.Find(1024, 1_048_575, s =>
        {
            probes++;
            return s <= limit;
        });
        Assert.Multiple(() =>
        {
            Assert.That(found, Is.EqualTo(expected));
            Assert.That(probes, Is.LessThanOrEqualTo(11), "binary: about log2(1023) probes");
        });
    }
}
