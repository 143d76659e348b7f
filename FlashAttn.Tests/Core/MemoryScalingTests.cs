namespace FlashAttn.Tests.Core;

/// <summary>Forward and backward never allocate anything quadratic in the sequence length.</summary>
public class MemoryScalingTests
{
    private const int Batch = 1, Heads = 2, HeadDim = 16;

    private static long Peak(string deviceName, int seqLen, bool backward)
    {
        using var device = deviceName == "emulator" ? Device.CpuEmulator() : Device.Cpu();
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

    /// <summary>
    /// The GPU kernels (on the emulator) at s = 256 and 512; the CPU path at 512 and 1024, since its fp32 packs pad
    /// head_dim 16 to a whole register tile (32), which outweighs one 256 × 256 score matrix per head.
    /// </summary>
    [TestCase("emulator", 256, false), TestCase("emulator", 256, true)]
    [TestCase("cpu", 512, false), TestCase("cpu", 512, true)]
    public void PeakDeviceMemoryGrowsLinearlyWithTheSequenceLength(string deviceName, int seqLen, bool backward)
    {
        long shorter = Peak(deviceName, seqLen, backward);
        long longer = Peak(deviceName, 2 * seqLen, backward);
        Assert.Multiple(() =>
        {
            Assert.That(longer, Is.LessThan(2.5 * shorter), $"peak at s={seqLen}: {shorter} B, at s={2 * seqLen}: {longer} B");
            Assert.That(longer, Is.LessThan((long)Batch * Heads * 4L * seqLen * seqLen * 4), "below one fp32 score matrix");
        });
    }
}
