using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Reductions across the <c>threadsPerRow</c> threads that share a block row: they are consecutive lanes of
/// one warp, so an xor butterfly over masks threadsPerRow/2 … 1 leaves the result in all of them.
/// Every lane of the warp must call (shuffles are warp-wide).
/// </summary>
internal static class RowReduce
{
    /// <summary>Maximum over the row's threads.</summary>
    public static float Max(float value, int threadsPerRow)
    {
        for (int mask = threadsPerRow / 2; mask > 0; mask /= 2)
            value = XMath.Max(value, Warp.ShuffleXor(value, mask));
        return value;
    }

    /// <summary>Sum over the row's threads.</summary>
    public static float Sum(float value, int threadsPerRow)
    {
        for (int mask = threadsPerRow / 2; mask > 0; mask /= 2)
            value += Warp.ShuffleXor(value, mask);
        return value;
    }
}
