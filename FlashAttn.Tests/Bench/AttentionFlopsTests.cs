using FlashAttn.Bench.Attention;
using FlashAttn.Bench.Results;

namespace FlashAttn.Tests.Bench;

/// <summary>The FLOP formula: 4·b·s_q·s_k·h·d, halved when causal; backward 2.5×, forward + backward 3.5×.</summary>
public class AttentionFlopsTests
{
    // b, s, h, d, causal, pass (as the files name it), expected FLOPs (worked by hand)
    [TestCase(1, 1, 1, 1, false, "fwd", 4.0)]
    [TestCase(2, 3, 5, 7, false, "fwd", 4.0 * 2 * 3 * 3 * 5 * 7)]
    [TestCase(2, 3, 5, 7, true, "fwd", 2.0 * 2 * 3 * 3 * 5 * 7)]
    [TestCase(2, 3, 5, 7, false, "bwd", 10.0 * 2 * 3 * 3 * 5 * 7)]
    [TestCase(2, 3, 5, 7, true, "fwd_bwd", 7.0 * 2 * 3 * 3 * 5 * 7)]
    // flash-attn's grid: b·s = 16384, h·d = 2048 → 4·16384·s·2048 whatever d is
    [TestCase(4, 4096, 16, 128, false, "fwd", 4.0 * 16384 * 4096 * 2048)]
    [TestCase(1, 16384, 32, 64, true, "fwd_bwd", 3.5 * 2.0 * 16384 * 16384 * 2048)]
    public void CountsAsFlashAttnDoes(int batch, int seqLen, int heads, int headDim, bool causal, string pass, double expected)
        => Assert.That(AttentionFlops.Of(AttentionPasses.Parse(pass), batch, seqLen, heads, headDim, causal), Is.EqualTo(expected));

    [Test]
    public void TflopsIsFlopsPerMillisecondOverOneBillion()
        => Assert.That(AttentionFlops.Tflops(2e12, 100), Is.EqualTo(20).Within(1e-12));

    [Test]
    public void AConfigurationCountsItsOwnShape()
    {
        var configuration = new SweepConfiguration(DType.Float16, 64, Causal: true, Batch: 8, SeqLen: 2048, Heads: 32);
        Assert.That(configuration.Flops(AttentionPass.Backward), Is.EqualTo(2.5 * 0.5 * 4.0 * 8 * 2048 * 2048 * 32 * 64));
    }
}
