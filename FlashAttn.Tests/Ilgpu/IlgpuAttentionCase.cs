using ILGPU.Runtime;
using FlashAttn.ILGPU;

namespace FlashAttn.Tests.Ilgpu;

/// <summary>
/// One forward and backward through <see cref="IlgpuAttention"/> on an ILGPU accelerator, against the same call through
/// FlashAttn's own tensors on its CPU device.
/// </summary>
internal static class IlgpuAttentionCase
{
    private static readonly AttentionSizes Sizes = new(Batch: 2, SeqLenQ: 7, SeqLenK: 11, HeadsQ: 4, HeadsKV: 2, HeadDim: 16);
    private static readonly AttentionOptions Options = new() { Causal = true, Deterministic = true };

    public static void Check(Accelerator accelerator)
    {
        int qLength = Sizes.Batch * Sizes.SeqLenQ * Sizes.HeadsQ * Sizes.HeadDim;
        int kvLength = Sizes.Batch * Sizes.SeqLenK * Sizes.HeadsKV * Sizes.HeadDim;
        int lseLength = Sizes.Batch * Sizes.HeadsQ * Sizes.SeqLenQ;
        float[] qValues = Core.TestDevices.Random(qLength, 11), kValues = Core.TestDevices.Random(kvLength, 12);
        float[] vValues = Core.TestDevices.Random(kvLength, 13), dOutValues = Core.TestDevices.Random(qLength, 14);

        using var q = accelerator.Allocate1D(qValues);
        using var k = accelerator.Allocate1D(kValues);
        using var v = accelerator.Allocate1D(vValues);
        using var dOut = accelerator.Allocate1D(dOutValues);
        using var output = accelerator.Allocate1D<float>(qLength);
        using var lse = accelerator.Allocate1D<float>(lseLength);
        using var dq = accelerator.Allocate1D<float>(qLength);
        using var dk = accelerator.Allocate1D<float>(kvLength);
        using var dv = accelerator.Allocate1D<float>(kvLength);

        using var attention = new IlgpuAttention(accelerator);
        attention.Forward(Sizes, q.View.AsContiguous(), k.View.AsContiguous(), v.View.AsContiguous(), output.View.AsContiguous(),
            lse.View.AsContiguous(), Options);
        attention.Backward(Sizes, dOut.View.AsContiguous(), q.View.AsContiguous(), k.View.AsContiguous(), v.View.AsContiguous(),
            output.View.AsContiguous(), lse.View.AsContiguous(), dq.View.AsContiguous(), dk.View.AsContiguous(), dv.View.AsContiguous(), Options);

        using var device = Device.Cpu();
        using var qt = DeviceTensor.Upload<float>(device, qValues, Sizes.QShape);
        using var kt = DeviceTensor.Upload<float>(device, kValues, Sizes.KvShape);
        using var vt = DeviceTensor.Upload<float>(device, vValues, Sizes.KvShape);
        using var dOutTensor = DeviceTensor.Upload<float>(device, dOutValues, Sizes.QShape);
        using var expected = FlashAttention.ForwardForTraining(qt, kt, vt, Options);
        using var grads = expected.Backward(dOutTensor);

        const float tolerance = 1e-4f; // CPU vs GPU kernels may sum in different orders
        Assert.Multiple(() =>
        {
            Assert.That(output.GetAsArray1D(), Is.EqualTo(expected.Output.ToArray()).Within(tolerance), "output");
            Assert.That(lse.GetAsArray1D(), Is.EqualTo(expected.Lse.ToArray()).Within(tolerance), "lse");
            Assert.That(dq.GetAsArray1D(), Is.EqualTo(grads.DQ.ToArray()).Within(tolerance), "dq");
            Assert.That(dk.GetAsArray1D(), Is.EqualTo(grads.DK.ToArray()).Within(tolerance), "dk");
            Assert.That(dv.GetAsArray1D(), Is.EqualTo(grads.DV.ToArray()).Within(tolerance), "dv");
        });
    }
}
