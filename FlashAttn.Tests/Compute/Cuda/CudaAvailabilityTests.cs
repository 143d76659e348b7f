using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Tests.Compute.Cuda;

public class CudaAvailabilityTests
{
    [Test]
    public void IsAvailableNeverThrowsAndAgreesWithDeviceCount()
    {
        bool available = false;
        Assert.DoesNotThrow(() => available = CudaAccelerator.IsAvailable());
        Assert.That(available, Is.EqualTo(CudaAccelerator.DeviceCount() > 0));
        Assert.DoesNotThrow(() => CudaAccelerator.IsAvailable()); // repeated calls stay quiet too
    }

    [Test]
    public void AdoptRejectsANullContextBeforeTouchingTheDriver()
        => Assert.That(() => CudaAccelerator.Adopt(0), Throws.ArgumentException.With.Property("ParamName").EqualTo("context"));

    [Test]
    public void WithoutADriverAdoptFailsClearly()
    {
        Assume.That(CudaApi.TryLoad(out _), Is.False, "a CUDA driver is installed here");
        Assert.That(() => CudaAccelerator.Adopt(0x1000), Throws.TypeOf<DllNotFoundException>());
    }

    [Test]
    public void WithoutADriverTheConstructorFailsClearly()
    {
        Assume.That(CudaApi.TryLoad(out _), Is.False, "a CUDA driver is installed here");
        var error = Assert.Throws<DllNotFoundException>(() => new CudaAccelerator());
        Assert.That(error!.Message, Does.Contain(OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1"));
    }
}
