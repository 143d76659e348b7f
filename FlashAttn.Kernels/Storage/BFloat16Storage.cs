using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>bf16 (<see cref="BFloat16"/>) storage.</summary>
internal readonly struct BFloat16Storage : ITensorCoreStorage<BFloat16>
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

    /// <inheritdoc/>
    public static Float4 MultiplyAdd(Int4 a, Int2 b, Float4 c) => TensorCore.MultiplyAddBF16(a, b, c);

    /// <inheritdoc/>
    public static int Pack(float low, float high) => TensorCore.PackBFloat162(low, high);
}
