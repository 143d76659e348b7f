using System.Runtime.InteropServices;

namespace FlashAttn.ILGPU;

/// <summary>
/// cuMemcpy between device memory of two CUDA contexts on one GPU (ILGPU's own context and FlashAttn's primary one):
/// with unified addressing the driver finds each pointer's context itself. Loaded from the driver on first use.
/// </summary>
internal static unsafe class CudaPeerCopy
{
    private static readonly Lazy<nint> s_memcpy = new(LoadMemcpy);

    /// <summary>Copies <paramref name="bytes"/> from <paramref name="source"/> to <paramref name="destination"/>; waits until done.</summary>
    /// <exception cref="InvalidOperationException">The driver reports an error.</exception>
    public static void Copy(nint destination, nint source, long bytes)
    {
        if (bytes == 0) return;
        var memcpy = (delegate* unmanaged<ulong, ulong, nuint, int>)s_memcpy.Value;
        int result = memcpy((ulong)destination, (ulong)source, (nuint)bytes);
        if (result != 0)
            throw new InvalidOperationException($"cuMemcpy of {bytes} bytes between ILGPU's and FlashAttn's CUDA memory failed with CUresult {result}.");
    }

    private static nint LoadMemcpy()
    {
        string library = OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1";
        if (!NativeLibrary.TryLoad(library, out var handle) || !NativeLibrary.TryGetExport(handle, "cuMemcpy", out var memcpy))
            throw new DeviceUnavailableException($"The CUDA driver ({library}) or its cuMemcpy could not be loaded.");
        return memcpy;
    }
}
