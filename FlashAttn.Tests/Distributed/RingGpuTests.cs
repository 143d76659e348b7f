using FlashAttn.Compute.Runtime.Cuda;
using FlashAttn.Distributed;
using FlashAttn.Kernels;
using FlashAttn.Tests.Kernels;
using FlashAttn.Tests.Support;

namespace FlashAttn.Tests.Distributed;

/// <summary>
/// Ring attention on GPUs against fp64 over the whole sequence: virtual ranks on one GPU (in-process transport), one
/// rank over NCCL, and a rank per GPU over NCCL where the machine has several. Not generated without CUDA
/// (<see cref="CudaOnly"/>); the NCCL cases are skipped when NCCL does not load (FLASHATTN_NCCL_LIBRARY).
/// </summary>
[TestFixtureSource(typeof(CudaOnly), nameof(CudaOnly.Fixture))]
[Category("Gpu")]
[NonParallelizable]
public class RingGpuTests
{
    private static AttentionRun Run(AttentionDtype dtype, int chunks) => new(new AttentionCase(
        new AttentionShape(2, 48 * chunks, 48 * chunks, 8, 2, 128), dtype, Causal: true, BottomRight: true, Deterministic: false, Seed: 17));

    private static void Check(AttentionRun run, Kernels.AttentionResult ours)
        => AttentionKernelTests.CheckAll(ours, run.Naive(backward: true), run.Reference(backward: true));

    [TestCase(AttentionDtype.Fp16)]
    [TestCase(AttentionDtype.Bf16)]
    [TestCase(AttentionDtype.Fp32)]
    public void VirtualRanksOnOneGpu(AttentionDtype dtype)
    {
        using var device = Device.Cuda(0);
        var run = Run(dtype, 6);
        Check(run, dtype switch
        {
            AttentionDtype.Fp16 => RingAttentionTests.RunRing<Half>(device, run, 3, SequenceSharding.ZigZag),
            AttentionDtype.Bf16 => RingAttentionTests.RunRing<BFloat16>(device, run, 3, SequenceSharding.ZigZag),
            _ => RingAttentionTests.RunRing<float>(device, run, 3, SequenceSharding.ZigZag),
        });
    }

    [Test]
    public void OneRankOverNccl()
    {
        Assume.That(NcclProcessGroup.IsAvailable, Is.True, "NCCL did not load: set FLASHATTN_NCCL_LIBRARY to libnccl.so.2");
        using var device = Device.Cuda(0);
        var groups = NcclProcessGroup.CreateAll([device]);
        try
        {
            var run = Run(AttentionDtype.Bf16, 2);
            Check(run, RingAttentionTests.RunRing<BFloat16>(groups, run, SequenceSharding.ZigZag));
        }
        finally
        {
            foreach (var g in groups) g.Dispose();
        }
    }

    [Test]
    public void ARankPerGpuOverNccl()
    {
        Assume.That(NcclProcessGroup.IsAvailable, Is.True, "NCCL did not load: set FLASHATTN_NCCL_LIBRARY to libnccl.so.2");
        int gpus = CudaAccelerator.DeviceCount();
        Assume.That(gpus, Is.GreaterThanOrEqualTo(2), "one GPU");
        var devices = Enumerable.Range(0, gpus).Select(Device.Cuda).ToArray();
        var groups = NcclProcessGroup.CreateAll(devices);
        try
        {
            var run = Run(AttentionDtype.Fp16, 2 * gpus);
            Check(run, RingAttentionTests.RunRing<Half>(groups, run, SequenceSharding.ZigZag));
        }
        finally
        {
            foreach (var g in groups) g.Dispose();
            foreach (var d in devices) d.Dispose();
        }
    }
}
