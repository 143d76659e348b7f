using System.Runtime.InteropServices;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Cpu;

/// <summary>
/// An fp32 workspace of the CPU path (packs, dQ partials) rented from the accelerator's <see cref="BufferCache"/>: kept
/// between calls, so a call neither maps fresh pages nor faults them in (at s = 4k that is tens of MB a call); counted in
/// <see cref="Device.AllocatedBytes"/> and <see cref="Device.CachedBytes"/>, freed by <see cref="Device.ReleaseCachedMemory"/>.
/// Contents undefined: <see cref="Clear"/> what must read as 0. Dispose gives it back.
/// </summary>
internal sealed unsafe class CpuWorkspace : IDisposable
{
    private readonly RentedBuffer<float> _rented;

    private CpuWorkspace(Accelerator accelerator, long length)
    {
        Length = Math.Max(1, length);
        _rented = accelerator.Cache.Rent<float>(Length);
        Pointer = _rented.View.Pointer;
    }

    /// <summary><paramref name="length"/> floats from <paramref name="accelerator"/>'s cache (or a new allocation).</summary>
    public static CpuWorkspace Rent(Accelerator accelerator, long length) => new(accelerator, length);

    public float* Pointer { get; }

    public long Length { get; }

    /// <summary>Zeroes <paramref name="count"/> floats from <paramref name="offset"/>.</summary>
    public void Clear(long offset, long count) => NativeMemory.Clear(Pointer + offset, (nuint)count * sizeof(float));

    public void Dispose() => _rented.Dispose();
}
