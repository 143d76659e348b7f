using FlashAttn.Compute;
using FlashAttn.Compute.Runtime.Cpu;
using FlashAttn.Kernels;

namespace FlashAttn.Tests.Kernels;

/// <summary>
/// fp16 and bf16 go to the tensor-core kernels at every head dim and both passes, with no fallback to the FFMA
/// kernels; fp32 keeps the FFMA kernels (issue 11's routing). Checked through the kernels each call loaded.
/// </summary>
public sealed class TensorCoreRoutingTests
{
    [TestCase(AttentionDtype.Fp16, 1)]
    [TestCase(AttentionDtype.Bf16, 59)]
    [TestCase(AttentionDtype.Fp16, 128)]
    [TestCase(AttentionDtype.Bf16, 200)]
    [TestCase(AttentionDtype.Fp16, 256)]
    public void HalfPrecisionRunsOnTensorCoresOnly(AttentionDtype dtype, int headDim)
    {
        var names = LoadedKernelNames(dtype, headDim, deterministic: false);
        Assert.That(names, Does.Contain(nameof(FlashForwardTensorCoreKernel)).And.Contain(nameof(FlashBackwardTensorCoreKernel)));
        Assert.That(names, Has.None.Matches<string>(n => n is nameof(FlashForwardKernel) or nameof(FlashForwardTiledKernel)
            or nameof(FlashBackwardKernel) or nameof(FlashBackwardTiledKernel) or nameof(FlashBackwardDqKernel)), string.Join(", ", names));
    }

    [Test]
    public void DeterministicHalfPrecisionAddsTheOrderedDqPass()
    {
        var names = LoadedKernelNames(AttentionDtype.Fp16, 64, deterministic: true);
        Assert.That(names, Does.Contain(nameof(FlashBackwardTensorCoreKernel)).And.Contain(nameof(FlashBackwardDqKernel)));
    }

    [Test]
    public void Fp32KeepsTheFfmaKernels()
    {
        var names = LoadedKernelNames(AttentionDtype.Fp32, 64, deterministic: false);
        Assert.That(names, Does.Not.Contain(nameof(FlashForwardTensorCoreKernel)).And.Not.Contain(nameof(FlashBackwardTensorCoreKernel)));
    }

    private static List<string> LoadedKernelNames(AttentionDtype dtype, int headDim, bool deterministic)
    {
        using var cpu = new CpuAccelerator();
        var c = new AttentionCase(new AttentionShape(1, 19, 23, 2, 1, headDim), dtype, Causal: true, BottomRight: true,
            Deterministic: deterministic, Seed: 5);
        new AttentionRun(c).Kernels(cpu, backward: true);
        return [.. cpu.LoadedKernels.Select(m => m.DeclaringType!.Name)];
    }
}
