using FlashAttn.Compute.Runtime;

namespace FlashAttn.Tests.Support;

/// <summary>Host arrays to accelerator buffers and back, for the kernel-level tests (one place for the conversions).</summary>
internal static class DeviceBuffers
{
    /// <summary>A buffer holding <paramref name="host"/> narrowed to <typeparamref name="T"/> (one element when empty: no zero-length allocation).</summary>
    public static MemoryBuffer<T> Upload<T>(Accelerator accelerator, float[] host, Func<float, T> narrow) where T : unmanaged
    {
        var buffer = accelerator.Allocate<T>(Math.Max(1, host.Length));
        if (host.Length > 0) buffer.CopyFromHost(Array.ConvertAll(host, x => narrow(x)));
        return buffer;
    }

    /// <summary>A buffer holding <paramref name="host"/>.</summary>
    public static MemoryBuffer<T> Upload<T>(Accelerator accelerator, T[] host) where T : unmanaged
    {
        var buffer = accelerator.Allocate<T>(host.Length);
        buffer.CopyFromHost(host);
        return buffer;
    }

    /// <summary>
    /// A buffer holding <paramref name="host"/> that the host can read through its view too: managed memory on CUDA, plain
    /// memory on the CPU accelerator. For modifier data (ALiBi slopes, bias tables, document ids), which the fp64 reference
    /// evaluates on the host with the very struct the kernels got.
    /// </summary>
    public static MemoryBuffer<T> UploadShared<T>(Accelerator accelerator, T[] host) where T : unmanaged
    {
        var buffer = accelerator is FlashAttn.Compute.Runtime.Cuda.CudaAccelerator cuda ? cuda.AllocateManaged<T>(host.Length) : accelerator.Allocate<T>(host.Length);
        buffer.CopyFromHost(host);
        return buffer;
    }

    /// <summary>The buffer's elements widened to double.</summary>
    public static double[] Download<T>(MemoryBuffer<T> buffer, Func<T, float> widen) where T : unmanaged
        => Array.ConvertAll(buffer.ToArray(), x => (double)widen(x));

    /// <summary>Floats widened to double.</summary>
    public static double[] Widen(float[] values) => Array.ConvertAll(values, x => (double)x);
}
