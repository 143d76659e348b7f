using System.Numerics.Tensors;
using FlashAttn.Compute;

namespace FlashAttn.Tests.Core;

public class DeviceTensorTests
{
    private static Device Make(string device) => device == "cpu" ? Device.Cpu() : TestDevices.Host();

    private static T[] Values<T>(int count) where T : unmanaged =>
        TestDevices.Random(count, 7).Select(x => DTypes.FromDouble<T>(x)).ToArray();

    private static void RoundTripThroughSystemNumericsTensors<T>(string deviceName, DType expected) where T : unmanaged, IEquatable<T>
    {
        using var device = Make(deviceName);
        var values = Values<T>(2 * 3 * 4 * 5);
        var host = Tensor.Create(values, [2, 3, 4, 5]);

        using var tensor = DeviceTensor.Upload(device, host);
        var back = tensor.Download();

        Assert.Multiple(() =>
        {
            Assert.That(tensor.DType, Is.EqualTo(expected));
            Assert.That(tensor.Shape.ToArray(), Is.EqualTo(new[] { 2, 3, 4, 5 }));
            Assert.That(tensor.Rank, Is.EqualTo(4));
            Assert.That(tensor.Length, Is.EqualTo(120));
            Assert.That(tensor.Device, Is.SameAs(device));
            Assert.That(back.Lengths.ToArray(), Is.EqualTo(new nint[] { 2, 3, 4, 5 }));
            var flat = new T[back.FlattenedLength];
            back.FlattenTo(flat);
            Assert.That(flat, Is.EqualTo(values));
            Assert.That(tensor.ToArray(), Is.EqualTo(values));
        });
    }

    [TestCase("host"), TestCase("cpu")]
    public void Float32RoundTrips(string device) => RoundTripThroughSystemNumericsTensors<float>(device, DType.Float32);

    [TestCase("host"), TestCase("cpu")]
    public void Float16RoundTrips(string device) => RoundTripThroughSystemNumericsTensors<Half>(device, DType.Float16);

    [TestCase("host"), TestCase("cpu")]
    public void BFloat16RoundTrips(string device) => RoundTripThroughSystemNumericsTensors<BFloat16>(device, DType.BFloat16);

    [Test]
    public void UploadOfASpanWithAShapeAndCopyToGiveTheValuesBack()
    {
        using var device = Device.Cpu();
        var values = Values<Half>(24);
        using var tensor = DeviceTensor.Upload<Half>(device, values, 2, 3, 4);
        var copy = new Half[30];
        tensor.CopyTo(copy);
        Assert.Multiple(() =>
        {
            Assert.That(copy.Take(24), Is.EqualTo(values));
            Assert.That(tensor.SizeInBytes, Is.EqualTo(48));
            Assert.That(tensor.ToString(), Does.Contain("[2, 3, 4]").And.Contain("Float16"));
        });
    }

    [Test]
    public void ZerosAreZeroAndEmptyHasItsShape()
    {
        using var device = Device.Cpu();
        using var zeros = DeviceTensor.Zeros<BFloat16>(device, 3, 5);
        using var empty = DeviceTensor.Empty<float>(device, 1, 2, 3, 4);
        Assert.Multiple(() =>
        {
            Assert.That(zeros.ToArray().Select(x => (float)x), Is.All.EqualTo(0f));
            Assert.That(empty.GetShape(), Is.EqualTo(new[] { 1, 2, 3, 4 }));
        });
    }

    [Test]
    public void DisposeFreesTheMemoryAndLaterReadsThrow()
    {
        using var device = Device.Cpu();
        long before = device.AllocatedBytes;
        var tensor = DeviceTensor.Zeros<float>(device, 4, 256);
        Assert.That(device.AllocatedBytes, Is.EqualTo(before + 4096));
        tensor.Dispose();
        tensor.Dispose();
        Assert.Multiple(() =>
        {
            Assert.That(device.AllocatedBytes, Is.EqualTo(before));
            Assert.That(tensor.IsDisposed, Is.True);
            Assert.That(() => tensor.ToArray(), Throws.TypeOf<ObjectDisposedException>());
            Assert.That(() => tensor.CopyFrom(new float[1024]), Throws.TypeOf<ObjectDisposedException>());
        });
    }

    [Test]
    public void BadUploadsNameTheArgument()
    {
        using var device = TestDevices.Host();
        Assert.Multiple(() =>
        {
            Assert.That(() => DeviceTensor.Upload<float>(device, new float[5], 2, 3),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("values").And.Message.Contain("needs 6"));
            Assert.That(() => DeviceTensor.Zeros<float>(device, 2, -1),
                Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("shape"));
            Assert.That(() => DeviceTensor.Empty<float>(device, int.MaxValue, int.MaxValue, 1 << 20),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("shape"));
            Assert.That(() => DeviceTensor.Upload<float>(device, new float[4], 65536, 65536),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("shape"));
            Assert.That(() => DeviceTensor.Upload(null!, Tensor.Create(new float[1])),
                Throws.TypeOf<ArgumentNullException>().With.Property("ParamName").EqualTo("device"));
            Assert.That(() => DeviceTensor.Upload(device, (Tensor<float>)null!),
                Throws.TypeOf<ArgumentNullException>().With.Property("ParamName").EqualTo("tensor"));
            Assert.That(() => DeviceTensor.Zeros<long>(device, 2), Throws.TypeOf<NotSupportedException>().With.Message.Contain("Int64"));
            Assert.That(() => DeviceTensor.Zeros<float>(device, 4).CopyTo(new float[3]),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("destination"));
        });
    }

    [Test]
    public void DevicesReportKindNameAndMemory()
    {
        using var cpu = Device.Cpu();
        using var tensor = DeviceTensor.Zeros<float>(cpu, 1000);
        Assert.Multiple(() =>
        {
            Assert.That(cpu.Kind, Is.EqualTo(DeviceKind.Cpu));
            Assert.That(cpu.Name, Is.Not.Empty);
            Assert.That(cpu.AllocatedBytes, Is.EqualTo(4000));
            Assert.That(cpu.PeakAllocatedBytes, Is.GreaterThanOrEqualTo(4000));
            Assert.That(Device.Default.Kind, Is.EqualTo(Device.IsCudaAvailable ? DeviceKind.Cuda : DeviceKind.Cpu));
        });
        Device.Default.Dispose();
        Assert.That(Device.Default.IsDisposed, Is.False, "Default ignores Dispose");
        if (!Device.IsCudaAvailable)
            Assert.That(() => Device.Cuda(), Throws.TypeOf<DeviceUnavailableException>().With.Message.Contain("CUDA"));
        Assert.That(() => Device.Cuda(-1), Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("ordinal"));
    }
}
