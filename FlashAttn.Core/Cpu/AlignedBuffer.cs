using System.Runtime.InteropServices;

namespace FlashAttn.Cpu;

/// <summary>
/// fp32 scratch in native memory aligned to a cache line, so vector loads never split lines and the GC never moves
/// what the micro-kernels point into. Owns the memory: dispose it.
/// </summary>
internal sealed unsafe class AlignedBuffer : IDisposable
{
    private const int CacheLine = 64;

    private AlignedBuffer(long length, bool zeroed)
    {
        nuint bytes = (nuint)Math.Max(1, length) * sizeof(float);
        Pointer = (float*)NativeMemory.AlignedAlloc(bytes, CacheLine);
        if (zeroed) NativeMemory.Clear(Pointer, bytes);
        Length = length;
    }

    /// <summary><paramref name="length"/> floats, all 0 (padding of packed matrices must read as 0).</summary>
    public static AlignedBuffer Zeroed(long length) => new(length, zeroed: true);

    /// <summary><paramref name="length"/> floats, contents undefined.</summary>
    public static AlignedBuffer Uninitialized(long length) => new(length, zeroed: false);

    public float* Pointer { get; private set; }

    public long Length { get; }

    public void Dispose()
    {
        if (Pointer == null) return;
        NativeMemory.AlignedFree(Pointer);
        Pointer = null;
    }
}
