namespace FlashAttn;

/// <summary>
/// Rejects a caller-provided destination whose memory overlaps a tensor the same call reads or writes: the kernels
/// would read values they have already overwritten. Cheap (address ranges only), so every destination call runs it.
/// </summary>
internal static class DestinationOverlap
{
    /// <summary>Throws when <paramref name="destination"/> shares a byte with any of <paramref name="others"/>.</summary>
    /// <exception cref="ArgumentException">The ranges overlap; ParamName is <paramref name="name"/>.</exception>
    public static void Check<T>(DeviceTensor<T> destination, string name, params ReadOnlySpan<DeviceTensor<T>> others) where T : unmanaged
    {
        long start = destination.Address, end = start + destination.SizeInBytes;
        foreach (var other in others)
        {
            long otherStart = other.Address, otherEnd = otherStart + other.SizeInBytes;
            if (start < otherEnd && otherStart < end && destination.SizeInBytes > 0 && other.SizeInBytes > 0)
                throw new ArgumentException($"{name} overlaps the memory of another tensor of the call ({other}); give it memory of its own.", name);
        }
    }
}
