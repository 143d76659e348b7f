using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// <see cref="ITensorCoreStorage{T}"/> for 16-bit elements: ldmatrix.x4 loads (transposed by <c>.trans</c>), one
/// m16n8k16 mma per tile and k16 step, f32×2 → 16-bit×2 packing. An A operand is 4 registers (a0…a3), a B pair 4 (the
/// first tile's b0, b1, then the second's); fragment layouts in <see cref="TensorCore"/>.
/// </summary>
internal static class HalfFragments
{
    /// <summary>Registers of an A operand and of a B operand pair.</summary>
    public const int Words = 4;

    /// <summary>(rows 0–7 | 8–15) × (k 0–7 | 8–15) → a0…a3.</summary>
    public static void LoadA<T>(ArrayView<T> tile, int stride, int row0, int k0, ArrayView<int> a, int index) where T : unmanaged
    {
        int lane = Warp.LaneIdx;
        Set(a, index, TensorCore.LoadMatrixX4(ref tile[(row0 + lane % 16) * stride + k0 + 8 * (lane / 16)]));
    }

    /// <summary>From a [k][m] tile, transposed: (rows 0–7 | 8–15) × (k 0–7 | 8–15) → a0…a3.</summary>
    public static void LoadATransposed<T>(ArrayView<T> tile, int stride, int k0, int row0, ArrayView<int> a, int index) where T : unmanaged
    {
        int lane = Warp.LaneIdx;
        Set(a, index, TensorCore.LoadMatrixX4Transposed(ref tile[(k0 + lane % 8 + 8 * (lane / 16)) * stride + row0 + 8 * (lane / 8 % 2)]));
    }

    /// <summary>n 0–7 × (k 0–7 | 8–15), then n 8–15 × the same: the two tiles' b0, b1.</summary>
    public static void LoadB<T>(ArrayView<T> tile, int stride, int n0, int k0, ArrayView<int> b, int index) where T : unmanaged
    {
        int lane = Warp.LaneIdx;
        Set(b, index, TensorCore.LoadMatrixX4(ref tile[(n0 + lane % 8 + 8 * (lane / 16)) * stride + k0 + 8 * (lane / 8 % 2)]));
    }

    /// <summary>From a [k][n] tile, transposed: (k 0–7 | 8–15) × n 0–7, then × n 8–15.</summary>
    public static void LoadBTransposed<T>(ArrayView<T> tile, int stride, int k0, int n0, ArrayView<int> b, int index) where T : unmanaged
    {
        int lane = Warp.LaneIdx;
        Set(b, index, TensorCore.LoadMatrixX4Transposed(ref tile[(k0 + lane % 8 + 8 * (lane / 8 % 2)) * stride + n0 + 8 * (lane / 16)]));
    }

    /// <summary>The C layout of two adjacent n8 tiles is exactly the A layout of one k16 step: accumulators rounded in pairs.</summary>
    public static void AccumulatorsAsA<T, TStorage>(ArrayView<float> c, int kk, ArrayView<int> a, int index)
        where T : unmanaged where TStorage : struct, IHalfStorage<T>
        => Set(a, index, new Int4(TStorage.Pack(c[8 * kk], c[8 * kk + 1]), TStorage.Pack(c[8 * kk + 2], c[8 * kk + 3]),
            TStorage.Pack(c[8 * kk + 4], c[8 * kk + 5]), TStorage.Pack(c[8 * kk + 6], c[8 * kk + 7])));

    /// <summary>Tiles <paramref name="tile"/> (b words 0, 1) and <paramref name="tile"/> + 1 (words 2, 3) += A·B.</summary>
    public static void MultiplyAddTwoTiles<T, TStorage>(ArrayView<float> accumulators, int tile, ArrayView<int> a, int aIndex, ArrayView<int> b, int bIndex)
        where T : unmanaged where TStorage : struct, IHalfStorage<T>
    {
        var fa = new Int4(a[Words * aIndex], a[Words * aIndex + 1], a[Words * aIndex + 2], a[Words * aIndex + 3]);
        int first = Words * bIndex;
        Fragments.SetC(accumulators, tile, TStorage.MultiplyAdd(fa, new Int2(b[first], b[first + 1]), Fragments.GetC(accumulators, tile)));
        Fragments.SetC(accumulators, tile + 1, TStorage.MultiplyAdd(fa, new Int2(b[first + 2], b[first + 3]), Fragments.GetC(accumulators, tile + 1)));
    }

    /// <summary>The accumulators' layout is stmatrix's: matrix j is rows 0–7 (j even) or 8–15 of n8 tile <paramref name="tile"/> + j / 2,
    /// register j of a lane its pair there; lanes 8j … 8j + 7 give matrix j's row addresses.</summary>
    public static void StoreTwoTiles<T, TStorage>(ArrayView<float> c, int tile, ArrayView<T> destination, int stride, int row0, int column0)
        where T : unmanaged where TStorage : struct, IHalfStorage<T>
    {
        int lane = Warp.LaneIdx, at = 4 * tile;
        TensorCore.StoreMatrixX4(ref destination[(row0 + lane % 8 + 8 * (lane / 8 % 2)) * stride + column0 + 8 * (lane / 16)],
            new Int4(TStorage.Pack(c[at], c[at + 1]), TStorage.Pack(c[at + 2], c[at + 3]), TStorage.Pack(c[at + 4], c[at + 5]),
                TStorage.Pack(c[at + 6], c[at + 7])));
    }

    /// <summary>Two elements rounded and packed into one 32-bit store.</summary>
    public static void StorePair<T, TStorage>(ArrayView<T> destination, long index, float low, float high)
        where T : unmanaged where TStorage : struct, IHalfStorage<T>
        => destination.Cast<int>()[index / 2] = TStorage.Pack(low, high);

    /// <summary><see cref="StorePair{T, TStorage}(ArrayView{T}, long, float, float)"/> with 32-bit index arithmetic, through a
    /// sub-view at the element rather than word index / 2: the signed division hid the constant part of the index from the
    /// address folding, so each of a loop's stores computed its own address (five integer instructions a store).</summary>
    public static void StorePair<T, TStorage>(ArrayView<T> destination, int index, float low, float high)
        where T : unmanaged where TStorage : struct, IHalfStorage<T>
        => destination.SubView(index, 2).Cast<int>()[0] = TStorage.Pack(low, high);

    private static void Set(ArrayView<int> words, int index, Int4 value)
    {
        words[Words * index] = value.X;
        words[Words * index + 1] = value.Y;
        words[Words * index + 2] = value.Z;
        words[Words * index + 3] = value.W;
    }
}
