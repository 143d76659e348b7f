using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace FlashAttn.Tests.Ilgpu;

/// <summary>
/// Keeps docs/engine.md's "ILGPU" section checkable without a GPU: ILGPU 1.5.3's PTX backend, asked for sm_90, emits
/// <c>.target sm_80</c>, and a 4-float per-thread tile indexed by constant-trip-count loops stays in local memory (the
/// loops are not unrolled), which is why our kernels are not compiled with ILGPU.
/// </summary>
public class IlgpuPtxFactsTests
{
    [Test]
    public void IlgpuTargetsAtMostSm80AndKeepsASmallTileInLocalMemory()
    {
        using var context = Context.Create(builder => builder.Cuda().PTXBackend(PTXBackendMode.Enhanced));
        using var backend = new PTXBackend(context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_83, nvvmAPI: null!);
        var kernel = typeof(IlgpuPtxFactsTests).GetMethod(nameof(SumOfSquares), BindingFlags.Static | BindingFlags.NonPublic)!;
        var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(kernel), new KernelSpecialization());
        string ptx = compiled.PTXAssembly;
        Assert.Multiple(() =>
        {
            Assert.That(ptx, Does.Contain(".target sm_80"), "sm_90 was asked for");
            Assert.That(ptx, Does.Contain(".local").And.Contain("st.local.f32"), "the tile is not promoted to registers");
        });
    }

    /// <summary>Our kernels' register-tile idiom in miniature.</summary>
    private static void SumOfSquares(Index1D i, ArrayView<float> a)
    {
        var tile = LocalMemory.Allocate1D<float>(4);
        for (int j = 0; j < 4; j++) tile[j] = a[i * 4 + j];
        float sum = 0;
        for (int j = 0; j < 4; j++) sum += tile[j] * tile[j];
        a[i] = sum;
    }
}
