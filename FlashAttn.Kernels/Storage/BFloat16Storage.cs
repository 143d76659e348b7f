using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>bf16 (<see cref="BFloat16"/>) storage.</summary>
internal readonly struct BFloat16Storage : IStorage<BFloat16>
{
    /// <inheritdoc/>
    public static float Load(BFloat16 value) => value;

    /// <inheritdoc/>
    public static BFloat16 Store(float value) => (BFloat16)value;

    /// <inheritdoc/>
    public static void StageFour(ArrayView<BFloat16> source, long index, bool fetch, ArrayView<float> destination, int destinationIndex)
    {
        for (int e = 0; e < 4; e++)
            destination[destinationIndex + e] = fetch ? Load(source[index + e]) : 0f;
    }
}
