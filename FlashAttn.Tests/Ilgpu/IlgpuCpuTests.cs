using ILGPU;
using ILGPU.Runtime.CPU;
using FlashAttn.ILGPU;

namespace FlashAttn.Tests.Ilgpu;

/// <summary>The ILGPU adapter on ILGPU's CPU accelerator (runs in CI): FlashAttn reads and writes ILGPU's buffers in place.</summary>
public class IlgpuCpuTests
{
    [Test]
    public void ForwardAndBackwardOnIlgpuCpuBuffersMatchFlashAttn()
    {
        using var context = Context.Create(builder => builder.CPU());
        using var accelerator = context.CreateCPUAccelerator(0);
        IlgpuAttentionCase.Check(accelerator);
    }

    [Test]
    public void AViewOfTheWrongLengthIsNamed()
    {
        using var context = Context.Create(builder => builder.CPU());
        using var accelerator = context.CreateCPUAccelerator(0);
        using var small = accelerator.Allocate1D<float>(3);
        using var attention = new IlgpuAttention(accelerator);
        var sizes = new AttentionSizes(1, 2, 2, 1, 1, 4);
        var view = small.View.AsContiguous();
        Assert.That(() => attention.Forward(sizes, view, view, view, view, default),
            Throws.ArgumentException.With.Property("ParamName").EqualTo("q").And.Message.Contain("[1, 2, 1, 4]"));
    }
}
