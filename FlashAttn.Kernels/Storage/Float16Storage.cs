using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>fp16 (IEEE binary16, <see cref="Half"/>) storage. Tensor-core operands as <see cref="HalfFragments"/>.</summary>
internal readonly struct Float16Storage : IHalfStorage<Half>
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

    /// <inheritdoc/>
    public static TAccumulators MultiplyAddWarpGroup<TAccumulators>(ulong a, ulong b, bool accumulate, TAccumulators d, bool transposeB)
        where TAccumulators : unmanaged, IWarpGroupAccumulators => WarpGroupMma.MultiplyAddF16(a, b, accumulate, d, transposeB);

    /// <inheritdoc/>
    public static TAccumulators MultiplyAddWarpGroup<TAccumulators>(Int4 a, ulong b, bool accumulate, TAccumulators d, bool transposeB)
        where TAccumulators : unmanaged, IWarpGroupAccumulators => WarpGroupMma.MultiplyAddF16(a, b, accumulate, d, transposeB);

    /// <inheritdoc/>
    public static int ElementBytes => 2;

    /// <inheritdoc/>
    public static int AWords => HalfFragments.Words;

    /// <inheritdoc/>
    public static int BWords => HalfFragments.Words;

    /// <inheritdoc/>
    public static void LoadA(ArrayView<Half> tile, int stride, int row0, int k0, ArrayView<int> a, int index)
        => HalfFragments.LoadA(tile, stride, row0, k0, a, index);

    /// <inheritdoc/>
    /// <remarks>16-bit operands order k alike in every load: the plain ldmatrix.</remarks>
    public static void LoadAInTransposedOrder(ArrayView<Half> tile, int stride, int row0, int k0, ArrayView<int> a, int index)
        => HalfFragments.LoadA(tile, stride, row0, k0, a, index);

    /// <inheritdoc/>
    public static void LoadATransposed(ArrayView<Half> tile, int stride, int k0, int row0, ArrayView<int> a, int index)
        => HalfFragments.LoadATransposed(tile, stride, k0, row0, a, index);

    /// <inheritdoc/>
    public static void LoadB(ArrayView<Half> tile, int stride, int n0, int k0, ArrayView<int> b, int index)
        => HalfFragments.LoadB(tile, stride, n0, k0, b, index);

    /// <inheritdoc/>
    public static void LoadBTransposed(ArrayView<Half> tile, int stride, int k0, int n0, ArrayView<int> b, int index)
        => HalfFragments.LoadBTransposed(tile, stride, k0, n0, b, index);

    /// <inheritdoc/>
    public static void AccumulatorsAsA(ArrayView<float> c, int kk, ArrayView<int> a, int index)
        => HalfFragments.AccumulatorsAsA<Half, Float16Storage>(c, kk, a, index);

    /// <inheritdoc/>
    public static void MultiplyAddTwoTiles(ArrayView<float> accumulators, int tile, ArrayView<int> a, int aIndex, ArrayView<int> b, int bIndex)
        => HalfFragments.MultiplyAddTwoTiles<Half, Float16Storage>(accumulators, tile, a, aIndex, b, bIndex);

    /// <inheritdoc/>
    public static void StoreTwoTiles(ArrayView<float> c, int tile, ArrayView<Half> destination, int stride, int row0, int column0)
        => HalfFragments.StoreTwoTiles<Half, Float16Storage>(c, tile, destination, stride, row0, column0);

    /// <inheritdoc/>
    public static void StorePair(ArrayView<Half> destination, long index, float low, float high)
        => HalfFragments.StorePair<Half, Float16Storage>(destination, index, low, high);

    /// <inheritdoc/>
    public static void StorePair(ArrayView<Half> destination, int index, float low, float high)
        => HalfFragments.StorePair<Half, Float16Storage>(destination, index, low, high);
}
