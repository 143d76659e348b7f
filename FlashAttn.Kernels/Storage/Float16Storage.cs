using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>fp16 (IEEE binary16, <see cref="Half"/>) storage.</summary>
internal readonly struct Float16Storage : ITensorCoreStorage<Half>
{
    /// <inheritdoc/>
    public static float Load(Half value) => (float)value;

    /// <inheritdoc/>
    public static Half Store(float value) => (Half)value;

    /// <inheritdoc/>
    public static void StageFour(ArrayView<Half> source, long index, bool fetch, ArrayView<float> destination, int destinationIndex)
    {
        for (int e = 0; e < 4; e++)
            destination[destinationIndex + e] = fetch ? Load(source[index + e]) : 0f;
    }

    /// <inheritdoc/>
    public static Float4 MultiplyAdd(Int4 a, Int2 b, Float4 c) => TensorCore.MultiplyAddF16(a, b, c);

    /// <inheritdoc/>
    public static int Pack(float low, float high) => TensorCore.PackHalf2(low, high);
}
