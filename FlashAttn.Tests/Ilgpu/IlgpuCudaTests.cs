using ILGPU;
using ILGPU.Runtime.Cuda;
using FlashAttn.Tests.Support;

namespace FlashAttn.Tests.Ilgpu;

/// <summary>The ILGPU adapter on ILGPU's CUDA accelerator (in place, in ILGPU's context and stream); generated only with a GPU.</summary>
[TestFixtureSource(typeof(CudaOnly), nameof(CudaOnly.Fixture))]
[Category("Gpu")]
[NonParallelizable]
public class IlgpuCudaTests
{
    [Test]
    public void ForwardAndBackwardOnIlgpuCudaBuffersMatchFlashAttn()
    {
        using var context = Context.Create(builder => builder.Cuda());
        using var accelerator = context.CreateCudaAccelerator(0);
        IlgpuAttentionCase.Check(accelerator);
    }
}
