using FlashAttn.Compute.Runtime.Cpu;
using FlashAttn.Kernels;
using FlashAttn.Tests.Support;

namespace FlashAttn.Tests.Kernels;

/// <summary>
/// The Hopper forward (<see cref="FlashForwardWarpGroupKernel"/>: a producer warpgroup's TMA copies into an mbarrier ring,
/// two consumer warpgroups' wgmma) on the test accelerator — in CI the CPU, through its models of the tensor maps, the copy
/// engine, the mbarriers and wgmma — against the fp64 reference under flash-attn's rule: its three head dims and both storages, odd
/// lengths (boxes reaching past the tensor, key blocks past s_k), s_q ≠ s_k both ways, causal in both alignments, a
/// window, GQA/MQA, the (b, h, s, d) layout.
/// </summary>
[NonParallelizable]
public class WarpGroupForwardTests : TestAcceleratorFixture
{
    [SetUp]
    public void TakeTheHopperKernel() => AttentionLauncher.WarpGroupForward = true;

    [TearDown]
    public void Restore() => AttentionLauncher.WarpGroupForward = null;

    public static IEnumerable<TestCaseData> Table()
    {
        TestCaseData Row(int sq, int sk, int hq, int hkv, int d, AttentionDtype dtype, int mode, AttentionLayout layout = AttentionLayout.BatchSeqHeadDim,
            int windowLeft = -1, int windowRight = -1)
        {
            var c = new AttentionCase(new AttentionShape(1, sq, sk, hq, hkv, d, layout), dtype, Causal: mode != 0, BottomRight: mode != 2,
                Deterministic: false, Seed: 9100 + sq + sk + d, windowLeft, windowRight);
            return new TestCaseData(c).SetName($"WarpGroupForward({c})");
        }
        yield return Row(150, 200, 2, 2, 64, AttentionDtype.Fp16, mode: 0);
        yield return Row(200, 131, 4, 2, 128, AttentionDtype.Bf16, mode: 1);
        yield return Row(97, 300, 3, 1, 128, AttentionDtype.Fp16, mode: 2, AttentionLayout.BatchHeadSeqDim);
        yield return Row(140, 140, 2, 1, 64, AttentionDtype.Bf16, mode: 1, windowLeft: 37);
        yield return Row(1, 77, 2, 2, 128, AttentionDtype.Fp16, mode: 0);
        yield return Row(150, 170, 2, 1, 256, AttentionDtype.Bf16, mode: 1);
        yield return Row(90, 200, 1, 1, 256, AttentionDtype.Fp16, mode: 0, AttentionLayout.BatchHeadSeqDim);
    }

    [TestCaseSource(nameof(Table))]
    public void MatchesReference(AttentionCase c)
    {
        var run = new AttentionRun(c);
        var ours = run.Kernels(_accelerator, backward: false);
        var reference = run.Reference(backward: false);
        var naive = run.Naive(backward: false);
        AttentionKernelTests.Check("O", ours.Output, naive.Output, reference.Output, AttentionKernelTests.ForwardFactor);
        AttentionKernelTests.Check("L", ours.Lse, naive.Lse, reference.Lse, AttentionKernelTests.ForwardFactor);
    }

    [Test]
    public void PlainHalfForwardsTakeItAndOthersDoNot()
    {
        using var cpu = new CpuAccelerator();
        new AttentionRun(new AttentionCase(new AttentionShape(1, 19, 23, 2, 1, 64), AttentionDtype.Fp16, Causal: true, BottomRight: true,
            Deterministic: false, Seed: 5)).Kernels(cpu, backward: false);
        Assert.That(cpu.LoadedKernels.Select(m => m.DeclaringType!.Name), Does.Contain(nameof(FlashForwardWarpGroupKernel)).And.Not.Contain(nameof(FlashForwardTensorCoreKernel)));
        using var other = new CpuAccelerator();
        new AttentionRun(new AttentionCase(new AttentionShape(1, 19, 23, 2, 1, 96), AttentionDtype.Fp16, Causal: true, BottomRight: true,
            Deterministic: false, Seed: 5)).Kernels(other, backward: false);
        Assert.That(other.LoadedKernels.Select(m => m.DeclaringType!.Name), Does.Contain(nameof(FlashForwardTensorCoreKernel)), "d = 96 keeps the FA2 kernel");
        AttentionLauncher.WarpGroupForward = null;
        using var auto = new CpuAccelerator();
        new AttentionRun(new AttentionCase(new AttentionShape(1, 19, 23, 2, 1, 64), AttentionDtype.Fp16, Causal: true, BottomRight: true,
            Deterministic: false, Seed: 5)).Kernels(auto, backward: false);
        Assert.That(auto.LoadedKernels.Select(m => m.DeclaringType!.Name), Does.Not.Contain(nameof(FlashForwardWarpGroupKernel)), "by default only on sm_90");
    }
}
