using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cpu;
using FlashAttn.Kernels;

namespace FlashAttn.Tests.Kernels;

/// <summary>
/// fp16 and bf16 go to the tensor-core kernels at every head dim and both passes, with no fallback to the FFMA
/// kernels; fp32 keeps the FFMA kernels unless its math is <see cref="Fp32Math.TensorCores"/> (3×TF32) or
/// <see cref="Fp32Math.Auto"/> on a GPU picks it. Checked through the kernels each call loaded.
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
    public void Fp32KeepsTheFfmaKernelsOnTheCpuAccelerator()
    {
        var names = LoadedKernelNames(AttentionDtype.Fp32, 64, deterministic: false);
        Assert.That(names, Does.Not.Contain(nameof(FlashForwardTensorCoreKernel)).And.Not.Contain(nameof(FlashBackwardTensorCoreKernel)));
    }

    [TestCase(AcceleratorKind.Cuda, 90, 64, false, ExpectedResult = Fp32Math.TensorCores)]
    [TestCase(AcceleratorKind.Cuda, 90, 128, false, ExpectedResult = Fp32Math.TensorCores)]
    [TestCase(AcceleratorKind.Cuda, 80, 256, false, ExpectedResult = Fp32Math.TensorCores)]
    [TestCase(AcceleratorKind.Cuda, 90, 64, true, ExpectedResult = Fp32Math.TensorCores)]
    [TestCase(AcceleratorKind.Cuda, 90, 65, true, ExpectedResult = Fp32Math.Exact)]
    [TestCase(AcceleratorKind.Cuda, 90, 128, true, ExpectedResult = Fp32Math.Exact)]
    [TestCase(AcceleratorKind.Cuda, 75, 64, false, ExpectedResult = Fp32Math.Exact)]
    [TestCase(AcceleratorKind.Cpu, 0, 64, false, ExpectedResult = Fp32Math.Exact)]
    public Fp32Math AutoTakesTheMathMeasuredFaster(AcceleratorKind kind, int computeCapability, int headDim, bool backward)
        => Fp32MathChoice.Resolve(Fp32Math.Auto, kind, computeCapability, headDim, backward);

    [TestCase(Fp32Math.Exact)]
    [TestCase(Fp32Math.TensorCores)]
    public void AnExplicitMathIsKept(Fp32Math math)
    {
        foreach (bool backward in new[] { false, true })
        {
            Assert.That(Fp32MathChoice.Resolve(math, AcceleratorKind.Cuda, 90, 128, backward), Is.EqualTo(math));
            Assert.That(Fp32MathChoice.Resolve(math, AcceleratorKind.Cpu, 0, 64, backward), Is.EqualTo(math));
        }
    }

    [TestCase(32)]
    [TestCase(200)]
    public void Fp32WithTensorCoreMathRunsOnTensorCoresOnly(int headDim)
    {
        var names = LoadedKernelNames(AttentionDtype.Fp32, headDim, deterministic: false, Fp32Math.TensorCores);
        Assert.That(names, Does.Contain(nameof(FlashForwardTensorCoreKernel)).And.Contain(nameof(FlashBackwardTensorCoreKernel)));
        Assert.That(names, Has.None.Matches<string>(n => n is nameof(FlashForwardKernel) or nameof(FlashForwardTiledKernel)
            or nameof(FlashBackwardKernel) or nameof(FlashBackwardTiledKernel)), string.Join(", ", names));
    }

    [Test]
    public void Fp32ModifiersAndDropoutTakeTheGeneralKernels()
    {
        // d = 64, aligned, dense: plain attention would take the register-tiled kernels, which know no modifiers
        using var cpu = new CpuAccelerator();
        var c = new AttentionCase(new AttentionShape(1, 19, 23, 2, 1, 64), AttentionDtype.Fp32, Causal: true, BottomRight: true, Deterministic: false, Seed: 5);
        var run = new AttentionRun(c);
        var settings = c.Settings with { Dropout = new Dropout(0.1f, seed: 3, offset: 0) };
        var modifiers = new AttentionModifiers<Softcap, NoMaskModifier>(new Softcap(1f), default);
        using var q = cpu.Allocate<float>(run.Q.Length);
        using var k = cpu.Allocate<float>(run.K.Length);
        using var v = cpu.Allocate<float>(run.V.Length);
        using var o = cpu.Allocate<float>(run.Q.Length);
        using var lse = cpu.Allocate<float>(2 * 19);
        using var dq = cpu.Allocate<float>(run.Q.Length);
        using var dk = cpu.Allocate<float>(run.K.Length);
        using var dv = cpu.Allocate<float>(run.K.Length);
        q.CopyFromHost(run.Q);
        k.CopyFromHost(run.K);
        v.CopyFromHost(run.V);
        AttentionLauncher.Forward(cpu, c.Shape, settings, modifiers, q.View, k.View, v.View, o.View, lse.View);
        AttentionLauncher.Backward(cpu, c.Shape, settings, modifiers, q.View, k.View, v.View, o.View, o.View, lse.View, dq.View, dk.View, dv.View);
        var names = cpu.LoadedKernels.Select(m => m.DeclaringType!.Name).ToList();
        Assert.That(names, Does.Contain(nameof(FlashForwardKernel)).And.Contain(nameof(FlashBackwardKernel))
            .And.Not.Contain(nameof(FlashForwardTiledKernel)).And.Not.Contain(nameof(FlashBackwardTiledKernel)), string.Join(", ", names));
    }

    private static List<string> LoadedKernelNames(AttentionDtype dtype, int headDim, bool deterministic, Fp32Math fp32Math = Fp32Math.Exact)
    {
        using var cpu = new CpuAccelerator();
        var c = new AttentionCase(new AttentionShape(1, 19, 23, 2, 1, headDim), dtype, Causal: true, BottomRight: true,
            Deterministic: deterministic, Seed: 5, Fp32Math: fp32Math);
        new AttentionRun(c).Kernels(cpu, backward: true);
        return [.. cpu.LoadedKernels.Select(m => m.DeclaringType!.Name)];
    }
}
