namespace FlashAttn.Tests.Core;

/// <summary>Forward and backward never allocate anything quadratic in the sequence length.</summary>
public class MemoryScalingTests
{
    private const int Batch = 1, Heads = 2, HeadDim = 16;

    private static long Peak(int seqLen, bool backward)
    {
        using var device = Device.Cpu();
        using var q = DeviceTensor.Upload<float>(device, TestDevices.Random(Batch * seqLen * Heads * HeadDim, seqLen), Batch, seqLen, Heads, HeadDim);
        var options = new AttentionOptions { Causal = true, ReturnLse = true };
        device.ResetPeakAllocatedBytes();
        using var forward = FlashAttention.Forward(q, q, q, options);
        if (backward)
        {
            using var grads = FlashAttention.Backward(q, q, q, q, forward.Output, forward.Lse!, options);
        }
        return device.PeakAllocatedBytes;
    }

    [TestCase(false), TestCase(true)]
    public void PeakDeviceMemoryGrowsLinearlyWithTheSequenceLength(bool backward)
    {
        long at256 = Peak(256, backward);
        long at512 = Peak(512, backward);
        Assert.Multiple(() =>
        {
            Assert.That(at512, Is.LessThan(2.5 * at256), $"peak at s=256: {at256} B, at s=512: {at512} B");
            Assert.That(at512, Is.LessThan((long)Batch * Heads * 512 * 512 * 4), "below one fp32 score matrix");
            Assert.That(at256, Is.LessThan((long)Batch * Heads * 256 * 256 * 4), "below one fp32 score matrix");
        });
    }
}
