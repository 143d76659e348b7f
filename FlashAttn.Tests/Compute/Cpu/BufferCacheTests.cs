using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Tests.Compute.Cpu;

/// <summary>The accelerator's buffer cache: reuse, size rule, element types, release and disposal.</summary>
public class BufferCacheTests
{
    [Test]
    public unsafe void AGivenBackBufferIsHandedOutAgainWithoutAllocating()
    {
        using var accelerator = new CpuAccelerator();
        nint first;
        using (var rented = accelerator.Cache.Rent<float>(1000))
        {
            first = (nint)rented.View.Pointer;
            Assert.That(rented.View.Length, Is.EqualTo(1000));
        }
        long held = accelerator.AllocatedBytes;
        Assert.That(accelerator.Cache.IdleBytes, Is.EqualTo(4000));
        using (var again = accelerator.Cache.Rent<float>(700))
        {
            Assert.That((nint)again.View.Pointer, Is.EqualTo(first), "an idle buffer at most twice as long is reused");
            Assert.That(again.View.Length, Is.EqualTo(700), "the view is as long as asked");
            Assert.That(accelerator.AllocatedBytes, Is.EqualTo(held));
            Assert.That(accelerator.Cache.IdleBytes, Is.Zero);
        }
    }

    [Test]
    public unsafe void MuchLongerOrOtherTypedBuffersAreNotReused()
    {
        using var accelerator = new CpuAccelerator();
        nint first;
        using (var rented = accelerator.Cache.Rent<float>(1000)) first = (nint)rented.View.Pointer;
        using var small = accelerator.Cache.Rent<float>(400);
        using var otherType = accelerator.Cache.Rent<int>(1000);
        Assert.That((nint)small.View.Pointer, Is.Not.EqualTo(first), "more than twice as long: a new buffer");
        Assert.That((nint)otherType.View.Pointer, Is.Not.EqualTo(first), "another element type: a new buffer");
        Assert.That(accelerator.Cache.IdleBytes, Is.EqualTo(4000));
    }

    [Test]
    public void ReleaseFreesTheIdleBuffersAndDisposalTheRest()
    {
        var accelerator = new CpuAccelerator();
        long before = accelerator.AllocatedBytes;
        accelerator.Cache.Rent<float>(256).Dispose();
        var kept = accelerator.Cache.Rent<double>(64);
        Assert.That(accelerator.AllocatedBytes - before, Is.EqualTo(256 * 4 + 64 * 8));
        accelerator.Cache.Release();
        Assert.That(accelerator.AllocatedBytes - before, Is.EqualTo(64 * 8), "only the rented buffer stays");
        kept.Dispose();
        kept.Dispose(); // a second give-back does nothing
        Assert.That(() => kept.View, Throws.InstanceOf<ObjectDisposedException>());
        Assert.That(accelerator.Cache.IdleBytes, Is.EqualTo(64 * 8));
        accelerator.Dispose(); // frees the idle buffer
        Assert.That(accelerator.AllocatedBytes, Is.EqualTo(before));
        Assert.That(() => accelerator.Cache, Throws.InstanceOf<ObjectDisposedException>());
    }

    [Test]
    public void ABufferGivenBackAfterTheAcceleratorIsDisposedIsFreed()
    {
        var accelerator = new CpuAccelerator();
        long before = accelerator.AllocatedBytes;
        var rented = accelerator.Cache.Rent<float>(1000);
        accelerator.Dispose();
        rented.Dispose();
        Assert.That(accelerator.AllocatedBytes, Is.EqualTo(before), "nothing is left holding it");
    }

    [Test]
    public void NegativeLengthsAreRejected()
    {
        using var accelerator = new CpuAccelerator();
        Assert.That(() => accelerator.Cache.Rent<float>(-1),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("length"));
    }
}
