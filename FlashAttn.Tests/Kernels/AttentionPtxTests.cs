using System.Reflection;
using FlashAttn.Compute;
using FlashAttn.Compute.Backends.Ptx;
using FlashAttn.Kernels;
using FlashAttn.Tests.Compute.Ptx;

namespace FlashAttn.Tests.Kernels;

/// <summary>
/// The attention kernels compiled all the way to PTX in CI (no GPU here): the structure that performance
/// depends on. Register arrays must not fall back to local memory; the register-tiled forward must read its
/// shared tiles with 16-byte loads and stage fp32 tiles with cp.async.
/// </summary>
[TestFixture]
public sealed class AttentionPtxTests
{
    private static string CompileForward(Type element, Type storage, int headDimPadded, bool causal)
    {
        var method = typeof(FlashForwardTiledKernel).GetMethod(nameof(FlashForwardTiledKernel.Forward), BindingFlags.Public | BindingFlags.Static)!
            .MakeGenericMethod(element, storage);
        var specializations = new object?[method.GetParameters().Length];
        specializations[^2] = SpecializedValue.New(headDimPadded);
        specializations[^1] = SpecializedValue.New(causal);
        var compiled = KernelCompiler.Instance.Compile(method, specializations, PtxTarget.Default);
        PtxChecker.Dump(new PtxModule(compiled.Ptx, compiled.EntryName, 0), $"forward_tiled_{element.Name}_{headDimPadded}_{(causal ? "causal" : "full")}");
        return compiled.Ptx;
    }

    [TestCase(128, false)]
    [TestCase(128, true)]
    [TestCase(64, false)]
    public void TiledForwardFp32KeepsRegistersAndStreamsTiles(int headDimPadded, bool causal)
    {
        string ptx = CompileForward(typeof(float), typeof(Float32Storage), headDimPadded, causal);
        Assert.Multiple(() =>
        {
            Assert.That(ptx, Does.Not.Contain(".local"), "register arrays left in local memory");
            Assert.That(ptx, Does.Contain("cp.async.cg.shared.global"), "fp32 tiles are staged asynchronously");
            Assert.That(ptx, Does.Contain("cp.async.wait_all"));
            Assert.That(ptx, Does.Contain("ld.shared.v4.f32"), "fragments are 16-byte shared loads");
            Assert.That(ptx, Does.Not.Match(@"\bld\.f32|\bld\.v4\.f32"), "no generic-space loads");
            Assert.That(ptx, Does.Contain(".maxntid 128, 1, 1"));
        });
    }

    [Test]
    public void TiledForwardFp16WidensSynchronously()
    {
        string ptx = CompileForward(typeof(Half), typeof(Float16Storage), 128, false);
        Assert.Multiple(() =>
        {
            Assert.That(ptx, Does.Not.Contain(".local"));
            Assert.That(ptx, Does.Not.Contain("cp.async.cg"));
            Assert.That(ptx, Does.Contain("ld.shared.v4.f32"));
        });
    }

    [TestCase(128, false, true)]
    [TestCase(128, true, false)]
    [TestCase(64, true, true)]
    public void TiledBackwardFp32KeepsRegistersAndStreamsTiles(int headDimPadded, bool causal, bool accumulateDq)
    {
        var method = typeof(FlashBackwardTiledKernel).GetMethod(nameof(FlashBackwardTiledKernel.Backward), BindingFlags.Public | BindingFlags.Static)!
            .MakeGenericMethod(typeof(float), typeof(Float32Storage));
        var specializations = new object?[method.GetParameters().Length];
        specializations[^3] = SpecializedValue.New(headDimPadded);
        specializations[^2] = SpecializedValue.New(causal);
        specializations[^1] = SpecializedValue.New(accumulateDq);
        var compiled = KernelCompiler.Instance.Compile(method, specializations, PtxTarget.Default);
        PtxChecker.Dump(new PtxModule(compiled.Ptx, compiled.EntryName, 0),
            $"backward_tiled_Single_{headDimPadded}_{(causal ? "causal" : "full")}_{(accumulateDq ? "dq" : "nodq")}");
        Assert.Multiple(() =>
        {
            Assert.That(compiled.Ptx, Does.Not.Contain(".local"), "register arrays left in local memory");
            Assert.That(compiled.Ptx, Does.Contain("cp.async.cg.shared.global"));
            Assert.That(compiled.Ptx, Does.Contain("ld.shared.v4.f32"));
            Assert.That(compiled.Ptx, accumulateDq ? Does.Contain("red.global.add.v4.f32") : Does.Not.Contain("red.global.add"));
            Assert.That(compiled.Ptx, Does.Not.Contain("atom.global"), "dQ goes through vector reductions");
            Assert.That(compiled.Ptx, Does.Contain(".maxntid 256, 1, 1"));
        });
    }
}
