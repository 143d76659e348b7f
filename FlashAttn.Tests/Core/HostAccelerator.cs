using System.Reflection;
using System.Runtime.InteropServices;
using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Tests.Core;

/// <summary>
/// A test accelerator over native host memory that runs no kernels: lets the API be tested (validation,
/// tensors, allocation accounting) without the real CPU or CUDA accelerators.
/// </summary>
internal sealed class HostAccelerator : Accelerator
{
    private long _allocated;
    private long _peak;

    public override AcceleratorKind Kind => AcceleratorKind.Cpu;

    public override AcceleratorInfo Info { get; } = new("test host memory", 32, 1024, 48 * 1024, 1, 0, 1L << 32);

    public override long AllocatedBytes => Interlocked.Read(ref _allocated);

    public override long PeakAllocatedBytes => Interlocked.Read(ref _peak);

    public override void ResetPeakAllocatedBytes() => Interlocked.Exchange(ref _peak, AllocatedBytes);

    public override void Synchronize() { }

    public override MemoryBuffer<T> Allocate<T>(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var buffer = new HostBuffer<T>(this, length);
        long now = Interlocked.Add(ref _allocated, buffer.LengthInBytes);
        long peak;
        while (now > (peak = Interlocked.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, now, peak) != peak) { }
        return buffer;
    }

    internal void Release(long bytes) => Interlocked.Add(ref _allocated, -bytes);

    protected override Kernel CreateKernel(MethodInfo method) =>
        throw new NotSupportedException("HostAccelerator runs no kernels.");

    private sealed unsafe class HostBuffer<T>(HostAccelerator accelerator, long length)
        : MemoryBuffer<T>(accelerator, length) where T : unmanaged
    {
        private readonly T* _pointer = (T*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, length * sizeof(T)), 64);

        protected override ArrayView<T> CreateView() => new(_pointer, (int)Length);

        protected override void CopyFromHostCore(ReadOnlySpan<T> source, long offset) =>
            source.CopyTo(new Span<T>(_pointer + offset, source.Length));

        protected override void CopyToHostCore(Span<T> destination, long offset) =>
            new ReadOnlySpan<T>(_pointer + offset, destination.Length).CopyTo(destination);

        protected override void CopyFromDeviceCore(MemoryBuffer<T> source) =>
            new ReadOnlySpan<T>(source.View.Pointer, (int)Length).CopyTo(new Span<T>(_pointer, (int)Length));

        protected override void MemSetCore(byte value) =>
            NativeMemory.Fill(_pointer, (nuint)(Length * sizeof(T)), value);

        protected override void Free()
        {
            NativeMemory.AlignedFree(_pointer);
            ((HostAccelerator)Accelerator).Release(LengthInBytes);
        }
    }
}
