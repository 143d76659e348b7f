using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace FlashAttn.Tests.Api;

/// <summary>Caller-owned memory and System.Numerics.Tensors spans on the CPU device, without extra host copies.</summary>
public class ZeroCopyTests
{
    [Test]
    public unsafe void WrappedCallerMemoryIsReadAndWrittenInPlace()
    {
        using var device = Device.Cpu();
        using var data = new ApiTestData(device);
        using var expected = FlashAttention.Forward(data.Q, data.K, data.V, causal: true);

        int qLength = data.QValues.Length, kvLength = data.KValues.Length;
        float* memory = (float*)NativeMemory.Alloc((nuint)(2 * qLength + 2 * kvLength), sizeof(float));
        try
        {
            var q = new Span<float>(memory, qLength);
            var k = new Span<float>(memory + qLength, kvLength);
            var v = new Span<float>(memory + qLength + kvLength, kvLength);
            var output = new Span<float>(memory + qLength + 2 * kvLength, qLength);
            data.QValues.CopyTo(q);
            data.KValues.CopyTo(k);
            data.VValues.CopyTo(v);

            using var qView = DeviceTensor.Wrap<float>(device, (nint)memory, ApiTestData.QShape);
            using var kView = DeviceTensor.Wrap<float>(device, (nint)(memory + qLength), ApiTestData.KvShape);
            using var vView = DeviceTensor.Wrap<float>(device, (nint)(memory + qLength + kvLength), ApiTestData.KvShape);
            using var outputView = DeviceTensor.Wrap<float>(device, (nint)(memory + qLength + 2 * kvLength), ApiTestData.QShape);
            long allocated = device.AllocatedBytes;
            FlashAttention.Forward(qView, kView, vView, outputView, lse: null, new AttentionOptions { Causal = true });
            device.Synchronize();
            float[] written = output.ToArray();

            Assert.Multiple(() =>
            {
                Assert.That(outputView.OwnsMemory, Is.False);
                Assert.That(outputView.Address, Is.EqualTo((nint)(memory + qLength + 2 * kvLength)));
                Assert.That(written, Is.EqualTo(expected.ToArray()), "the kernel wrote the caller's memory");
            });
            outputView.Dispose();
            Assert.That(outputView.IsDisposed);
            Assert.That(output[0], Is.EqualTo(expected.ToArray()[0]), "disposing a view leaves the memory alone");
            Assert.That(device.AllocatedBytes, Is.LessThanOrEqualTo(allocated), "views allocate nothing");
        }
        finally
        {
            NativeMemory.Free(memory);
        }
    }

    [Test]
    public void WrapRejectsANullAddress()
    {
        using var device = Device.Cpu();
        Assert.That(() => DeviceTensor.Wrap<float>(device, 0, 2, 3), Throws.ArgumentException.With.Property("ParamName").EqualTo("address"));
    }

    [Test]
    public void TensorSpansCopyInAndOutDenseOrStrided()
    {
        using var device = Device.Cpu();
        float[] values = Enumerable.Range(0, 24).Select(i => (float)i).ToArray();
        var dense = new ReadOnlyTensorSpan<float>(values, [2, 3, 4]);
        using var tensor = DeviceTensor.Upload(device, dense);
        Assert.That(tensor.ToArray(), Is.EqualTo(values));

        var back = new float[24];
        tensor.CopyTo(new TensorSpan<float>(back, [2, 3, 4]));
        Assert.That(back, Is.EqualTo(values));

        // A transposed (strided) destination: element (i, j) of the (4, 6) view lands at j * 4 + i of the array.
        using var matrix = DeviceTensor.Upload<float>(device, values, 4, 6);
        var transposed = new float[24];
        matrix.CopyTo(new TensorSpan<float>(transposed, 0, [4, 6], [1, 4]));
        Assert.That(transposed[1 * 4 + 2], Is.EqualTo(values[2 * 6 + 1]));

        matrix.CopyFrom(new ReadOnlyTensorSpan<float>(transposed, 0, [4, 6], [1, 4]));
        Assert.That(matrix.ToArray(), Is.EqualTo(values));
        Assert.That(() => matrix.CopyTo(new TensorSpan<float>(back, [2, 12])), Throws.ArgumentException.With.Property("ParamName").EqualTo("destination"));
    }
}
