using FlashAttn.Compute.Runtime.Cpu;
using FlashAttn.Kernels;
using FlashAttn.Tests.Support;

namespace FlashAttn.Tests.Kernels;

/// <summary>
/// The Hopper forward (<see cref="FlashForwardWarpGroupKernel"/>: a producer warpgroup's TMA copies into an mbarrier ring,
/// two consumer warpgroups' wgmma) on the test accelerator — in CI the CPU, through its models of the tensor maps, the copy
/// engine, the mbarriers and wgmma — against the fp64 reference under flash-attn's rule: its three head dims and both storages, odd
/// lengths (boxes reaching past the tensor, key blocks past s_k), s_q ≠ s_k both ways, causal in both alignments, a
/// window, GQA/MQA, the (b, h, s, d) layout; with the measured tiles and with FA3's (not yet run on a GPU).
/// </summary>
[NonParallelizable]
public class WarpGroupForwardTests : TestAcceleratorFixture
{
    [SetUp]
    public void TakeTheHopperKernel() => AttentionLauncher.WarpGroupForward = true;

    [TearDown]
    public void Restore()
    {
        AttentionLauncher.WarpGroupForward = null;
        AttentionLauncher.WarpGroupFa3Tiles = false;
    }

    /// <summary>Each shape with the measured tiles (d = 64, 128) and with FA3's (three consumers at d = 64, turns at d = 128 and
    /// 256, d = 256).</summary>
    public static IEnumerable<TestCaseData> Table()
    {
        IEnumerable<TestCaseData> Rows(int sq, int sk, int hq, int hkv, int d, AttentionDtype dtype, int mode,
            AttentionLayout layout = AttentionLayout.BatchSeqHeadDim, int windowLeft = -1, int windowRight = -1)
        {
            var c = new AttentionCase(new AttentionShape(1, sq, sk, hq, hkv, d, layout), dtype, Causal: mode != 0, BottomRight: mode != 2,
                Deterministic: false, Seed: 9100 + sq + sk + d, windowLeft, windowRight);
            foreach (bool fa3 in new[] { false, true })
                if (WarpGroupTile.Covers(d, fa3))
                    yield return new TestCaseData(c, fa3).SetName($"WarpGroupForward({c}{(fa3 ? " fa3" : "")})");
        }
        return
        [
            .. Rows(150, 200, 2, 2, 64, AttentionDtype.Fp16, mode: 0),
            .. Rows(200, 131, 4, 2, 128, AttentionDtype.Bf16, mode: 1),
            .. Rows(97, 300, 3, 1, 128, AttentionDtype.Fp16, mode: 2, AttentionLayout.BatchHeadSeqDim),
            .. Rows(140, 140, 2, 1, 64, AttentionDtype.Bf16, mode: 1, windowLeft: 37),
            .. Rows(1, 77, 2, 2, 128, AttentionDtype.Fp16, mode: 0),
            .. Rows(150, 170, 2, 1, 256, AttentionDtype.Bf16, mode: 1),
            .. Rows(90, 200, 1, 1, 256, AttentionDtype.Fp16, mode: 0, AttentionLayout.BatchHeadSeqDim),
            // nine key blocks: the rings' and the turns' phases wrap several times
            .. Rows(130, 1100, 1, 1, 128, AttentionDtype.Fp16, mode: 0),
        ];
    }

    [TestCaseSource(nameof(Table))]
    public void MatchesReference(AttentionCase c, bool fa3Tiles)
    {
        AttentionLauncher.WarpGroupFa3Tiles = fa3Tiles;
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
        foreach (bool fa3 in new[] { false, true })
        {
            AttentionLauncher.WarpGroupFa3Tiles = fa3;
            using var wide = new CpuAccelerator();
            new AttentionRun(new AttentionCase(new AttentionShape(1, 19, 23, 1, 1, 256), AttentionDtype.Bf16, Causal: false, BottomRight: true,
                Deterministic: false, Seed: 5)).Kernels(wide, backward: false);
            Assert.That(wide.LoadedKernels.Select(m => m.DeclaringType!.Name).Contains(nameof(FlashForwardWarpGroupKernel)), Is.EqualTo(fa3),
                "d = 256 takes it with FA3's tiles only");
        }
        AttentionLauncher.WarpGroupForward = null;
        using var auto = new CpuAccelerator();
        new AttentionRun(new AttentionCase(new AttentionShape(1, 19, 23, 2, 1, 64), AttentionDtype.Fp16, Causal: true, BottomRight: true,
            Deterministic: false, Seed: 5)).Kernels(auto, backward: false);
        Assert.That(auto.LoadedKernels.Select(m => m.DeclaringType!.Name), Does.Not.Contain(nameof(FlashForwardWarpGroupKernel)), "by default only on sm_90");
    }
}
