using System.Runtime.InteropServices;

namespace FlashAttn.Bench.Oracle;

/// <summary>
/// Tensors as raw files: the elements in row-major order, little-endian, nothing else (what numpy's
/// <c>tofile</c> and torch's <c>view(torch.uint8)</c> give). float is IEEE binary32, Half binary16, BFloat16 the top
/// 16 bits of a binary32: each type's in-memory layout on a little-endian machine.
/// </summary>
internal static class RawTensorFile
{
    /// <summary>Reads exactly <paramref name="count"/> elements.</summary>
    /// <exception cref="InvalidDataException">The file's size is not <paramref name="count"/> elements.</exception>
    public static T[] Read<T>(string path, long count) where T : unmanaged
    {
        EnsureLittleEndian();
        byte[] bytes = File.ReadAllBytes(path);
        long expected = count * Marshal.SizeOf<T>();
        if (bytes.LongLength != expected)
            throw new InvalidDataException(
                $"{Path.GetFileName(path)} has {bytes.LongLength} bytes; {count} elements of {typeof(T).Name} need {expected}.");
        return MemoryMarshal.Cast<byte, T>(bytes).ToArray();
    }

    /// <summary>Writes <paramref name="values"/>, replacing the file.</summary>
    public static void Write<T>(string path, ReadOnlySpan<T> values) where T : unmanaged
    {
        EnsureLittleEndian();
        File.WriteAllBytes(path, MemoryMarshal.AsBytes(values));
    }

    private static void EnsureLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("raw tensor files are little-endian; this machine is big-endian.");
    }
}
