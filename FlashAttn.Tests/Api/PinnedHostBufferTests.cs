namespace FlashAttn.Tests.Api;

/// <summary>Host buffers for repeated copies (<see cref="Device.AllocatePinnedHost{T}"/>): page-locked on CUDA, plain aligned
/// memory on the CPU devices, the same copies either way.</summary>
public class PinnedHostBufferTests
{
    [Test]
    public void CopiesRoundTripThroughAPinnedBufferOnTheCpu()
    {
        using var device = Device.Cpu();
        RoundTrip(device, expectLocked: false);
    }

    [Test]
    public void CopiesRoundTripThroughAPageLockedBufferOnCuda()
    {
        Assume.That(Device.IsCudaAvailable, Is.True, "no CUDA device");
        using var device = Device.Cuda();
        RoundTrip(device, expectLocked: true);
    }

    [Test]
    public void ADisposedBufferRefusesItsSpanAndDisposesOnce()
    {
        using var device = Device.Cpu();
        var buffer = device.AllocatePinnedHost<float>(3);
        ((IDisposable)buffer).Dispose();
        Assert.Multiple(() =>
        {
            Assert.That(buffer.IsDisposed);
            Assert.That(() => buffer.Span.Length, Throws.TypeOf<ObjectDisposedException>());
            Assert.That(() => buffer.Pin(), Throws.TypeOf<ObjectDisposedException>());
            Assert.That(() => ((IDisposable)buffer).Dispose(), Throws.Nothing);
        });
    }

    [TestCase(0)]
    [TestCase(-4)]
    public void ANonPositiveLengthIsRefused(int length)
    {
        using var device = Device.Cpu();
        Assert.That(() => device.AllocatePinnedHost<float>(length),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("length"));
    }

    [Test]
    public void ADisposedDeviceAllocatesNothing()
    {
        var device = Device.Cpu();
        device.Dispose();
        Assert.That(() => device.AllocatePinnedHost<float>(8), Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public void PinPointsIntoTheBufferAndChecksItsIndex()
    {
        using var device = Device.Cpu();
        using var buffer = device.AllocatePinnedHost<int>(1000);
        buffer.Span[7] = 42;
        unsafe
        {
            using var handle = buffer.Pin(7);
            Assert.That(*(int*)handle.Pointer, Is.EqualTo(42));
            Assert.That((long)buffer.Pin().Pointer % 4096, Is.EqualTo(0L), "page-aligned");
        }
        Assert.That(() => buffer.Pin(1001), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => buffer.Pin(-1), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    private static void RoundTrip(Device device, bool expectLocked)
    {
        // an odd length, so the buffer ends inside a page
        const int Rows = 37, Columns = 61;
        using var source = device.AllocatePinnedHost<float>(Rows * Columns);
        using var destination = device.AllocatePinnedHost<float>(Rows * Columns);
        var random = new Random(11);
        for (int i = 0; i < source.Length; i++) source.Span[i] = (float)(random.NextDouble() * 2 - 1);

        using var tensor = DeviceTensor.Upload<float>(device, source.Span, Rows, Columns);
        tensor.CopyTo(destination.Span);

        Assert.Multiple(() =>
        {
            Assert.That(source.IsPageLocked, Is.EqualTo(expectLocked));
            Assert.That(destination.Span.ToArray(), Is.EqualTo(source.Span.ToArray()));
            Assert.That(source.Memory.Length, Is.EqualTo(Rows * Columns));
        });
    }
}
