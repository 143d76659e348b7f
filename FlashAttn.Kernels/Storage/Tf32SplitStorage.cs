using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// fp32 storage on the tensor cores with fp32 accuracy (3×TF32): each operand x is split into tf32 parts hi = tf32(x) and
/// lo = tf32(x − hi), and a·b is computed as a_lo·b_hi + a_hi·b_lo + a_hi·b_hi by three m16n8k8 mma (the dropped
/// a_lo·b_lo is at most fp32's rounding), each k16 step in fresh registers added to the fp32 accumulators by FADD.
/// </summary>
/// <remarks>
/// One element per register (fragment layouts in <see cref="TensorCore"/>), read from shared memory by 32-bit loads. An A
/// operand (16 × k16) is 16 words: per k8 half h, hi a0…a3 then lo a0…a3 (word 8h + 4·part + r); a B pair 16 words: per
/// tile j and half h, hi b0, b1 then lo b0, b1 (word 8j + 4h + 2·part + r).
/// The transposed loads and <see cref="AccumulatorsAsA"/> order the k of a half as keys 0, 2, 4, 6, 1, 3, 5, 7: a lane's
/// accumulators (columns 2t, 2t+1) are then its A elements k = t and t + 4, so P needs no shuffle, and the transposed
/// loads (rows 2t, 2t+1 of a tile whose row stride is 4 mod 8 words) touch 32 different banks.
/// </remarks>
internal readonly struct Tf32SplitStorage : ITensorCoreStorage<float>
{
    /// <inheritdoc/>
    public static float Load(float value) => value;

    /// <inheritdoc/>
    public static float Store(float value) => value;

    /// <inheritdoc/>
    public static void StageFour(ArrayView<float> source, long index, bool fetch, ArrayView<float> destination, int destinationIndex)
        => Float32Storage.StageFour(source, index, fetch, destination, destinationIndex);

    /// <inheritdoc/>
    public static int ElementBytes => 4;

    /// <inheritdoc/>
    public static int AWords => 16;

    /// <inheritdoc/>
    public static int BWords => 16;

    /// <inheritdoc/>
    public static void LoadA(ArrayView<float> tile, int stride, int row0, int k0, ArrayView<int> a, int index)
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        for (int h = 0; h < 2; h++)
        {
            int top = (row0 + g) * stride + k0 + 8 * h + t, bottom = top + 8 * stride, at = 16 * index + 8 * h;
            Split(tile[top], a, at, 4);
            Split(tile[bottom], a, at + 1, 4);
            Split(tile[top + 4], a, at + 2, 4);
            Split(tile[bottom + 4], a, at + 3, 4);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Per k8 half: (row g, k 2t), (g + 8, 2t), (g, 2t + 1), (g + 8, 2t + 1), as <see cref="AccumulatorsAsA"/> takes
    /// an accumulator tile's columns 2t, 2t + 1.</remarks>
    public static void LoadAInTransposedOrder(ArrayView<float> tile, int stride, int row0, int k0, ArrayView<int> a, int index)
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        for (int h = 0; h < 2; h++)
        {
            int top = (row0 + g) * stride + k0 + 8 * h + 2 * t, bottom = top + 8 * stride, at = 16 * index + 8 * h;
            Split(tile[top], a, at, 4);
            Split(tile[bottom], a, at + 1, 4);
            Split(tile[top + 1], a, at + 2, 4);
            Split(tile[bottom + 1], a, at + 3, 4);
        }
    }

    /// <inheritdoc/>
    public static void LoadATransposed(ArrayView<float> tile, int stride, int k0, int row0, ArrayView<int> a, int index)
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        for (int h = 0; h < 2; h++)
        {
            int even = (k0 + 8 * h + 2 * t) * stride + row0 + g, odd = even + stride, at = 16 * index + 8 * h;
            Split(tile[even], a, at, 4);
            Split(tile[even + 8], a, at + 1, 4);
            Split(tile[odd], a, at + 2, 4);
            Split(tile[odd + 8], a, at + 3, 4);
        }
    }

    /// <inheritdoc/>
    public static void LoadB(ArrayView<float> tile, int stride, int n0, int k0, ArrayView<int> b, int index)
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        for (int j = 0; j < 2; j++)
            for (int h = 0; h < 2; h++)
            {
                int first = (n0 + 8 * j + g) * stride + k0 + 8 * h + t, at = 16 * index + 8 * j + 4 * h;
                Split(tile[first], b, at, 2);
                Split(tile[first + 4], b, at + 1, 2);
            }
    }

    /// <inheritdoc/>
    public static void LoadBTransposed(ArrayView<float> tile, int stride, int k0, int n0, ArrayView<int> b, int index)
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        for (int j = 0; j < 2; j++)
            for (int h = 0; h < 2; h++)
            {
                int even = (k0 + 8 * h + 2 * t) * stride + n0 + 8 * j + g, at = 16 * index + 8 * j + 4 * h;
                Split(tile[even], b, at, 2);
                Split(tile[even + stride], b, at + 1, 2);
            }
    }

    /// <inheritdoc/>
    public static void AccumulatorsAsA(ArrayView<float> c, int kk, ArrayView<int> a, int index)
    {
        for (int h = 0; h < 2; h++)
        {
            // tile 2kk + h: (row g: keys 2t, 2t+1 | row g+8: the same) → a0 = (g, k t), a1 = (g+8, t), a2 = (g, t+4), a3 = (g+8, t+4)
            int first = 4 * (2 * kk + h), at = 16 * index + 8 * h;
            Split(c[first], a, at, 4);
            Split(c[first + 2], a, at + 1, 4);
            Split(c[first + 1], a, at + 2, 4);
            Split(c[first + 3], a, at + 3, 4);
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The k16 step's six products go to fresh registers, which are then added to the accumulators by FADD (round to
    /// nearest). The mma's own accumulation truncates its result at the accumulator's magnitude, a bias toward zero that grows
    /// with the number of mma that add into one accumulator: summed by the mma over a whole row of blocks (O over its keys,
    /// dK and dV over the queries), it was the largest error of 3×TF32 on the H200 (the oracle's O, dK and dV at 2.5–12×
    /// naive fp32's, 2026-12-05); the CPU's model of that accumulation (<see cref="TensorCore"/>) reproduces it.
    /// </remarks>
    public static void MultiplyAddTwoTiles(ArrayView<float> accumulators, int tile, ArrayView<int> a, int aIndex, ArrayView<int> b, int bIndex)
    {
        for (int j = 0; j < 2; j++)
        {
            var step = MultiplyAdd(a, aIndex, b, bIndex, j, default);
            var c = Fragments.GetC(accumulators, tile + j);
            Fragments.SetC(accumulators, tile + j, new Float4(c.X + step.X, c.Y + step.Y, c.Z + step.Z, c.W + step.W));
        }
    }

    /// <summary><paramref name="c"/> + A operand <paramref name="aIndex"/> · n8 tile <paramref name="j"/> of B pair
    /// <paramref name="bIndex"/>: per k8 half, the two small products first (they are not rounded away against the large one),
    /// then high·high.</summary>
    private static Float4 MultiplyAdd(ArrayView<int> a, int aIndex, ArrayView<int> b, int bIndex, int j, Float4 c)
    {
        for (int h = 0; h < 2; h++)
        {
            int aAt = 16 * aIndex + 8 * h, bAt = 16 * bIndex + 8 * j + 4 * h;
            var aHigh = new Int4(a[aAt], a[aAt + 1], a[aAt + 2], a[aAt + 3]);
            var aLow = new Int4(a[aAt + 4], a[aAt + 5], a[aAt + 6], a[aAt + 7]);
            var bHigh = new Int2(b[bAt], b[bAt + 1]);
            var bLow = new Int2(b[bAt + 2], b[bAt + 3]);
            c = TensorCore.MultiplyAddTf32(aLow, bHigh, c);
            c = TensorCore.MultiplyAddTf32(aHigh, bLow, c);
            c = TensorCore.MultiplyAddTf32(aHigh, bHigh, c);
        }
        return c;
    }

    /// <inheritdoc/>
    public static void StoreTwoTiles(ArrayView<float> c, int tile, ArrayView<float> destination, int stride, int row0, int column0)
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        for (int half = 0; half < 2; half++)
            for (int r = 0; r < 2; r++)
            {
                int at = 4 * (tile + half) + 2 * r;
                StorePair(destination, (row0 + g + 8 * r) * stride + column0 + 8 * half + 2 * t, c[at], c[at + 1]);
            }
    }

    /// <inheritdoc/>
    public static void StorePair(ArrayView<float> destination, long index, float low, float high)
        => destination.Cast<Float2>()[index / 2] = new Float2(low, high);

    /// <inheritdoc/>
    public static void StorePair(ArrayView<float> destination, int index, float low, float high)
        => destination.Cast<Float2>()[index / 2] = new Float2(low, high);

    /// <summary>
    /// words[at] = tf32(x), words[at + <paramref name="lowOffset"/>] = tf32(x − that), both rounded to nearest, ties away —
    /// <see cref="TensorCore.RoundToTf32"/>'s rounding — on the integer pipe: cvt.rna runs at a quarter of the integer
    /// rate (the CUDA guide's "all other type conversions", 16 per clock per SM), two of them per product would bound the
    /// kernel below the tensor cores. Adding half a tf32 ulp to the bits and dropping the 13 low bits rounds a finite
    /// value; the low part's bits are left for the mma to drop (it reads only the upper 19, as CUTLASS's fast-fp32 path).
    /// </summary>
    private static void Split(float value, ArrayView<int> words, int at, int lowOffset)
    {
        Split(value, out int high, out int low);
        words[at] = high;
        words[at + lowOffset] = low;
    }

    /// <summary>The words of <see cref="Split(float, ArrayView{int}, int, int)"/>: <paramref name="high"/> = tf32(x),
    /// <paramref name="low"/> = x − that with half a tf32 ulp added (the bits the mma reads).</summary>
    internal static void Split(float value, out int high, out int low)
    {
        high = (BitConverter.SingleToInt32Bits(value) + HalfUlp) & ~DroppedBits;
        low = BitConverter.SingleToInt32Bits(value - BitConverter.Int32BitsToSingle(high)) + HalfUlp;
    }

    /// <summary>The fp32 mantissa bits tf32 drops, and half of their range.</summary>
    private const int DroppedBits = 0x1FFF, HalfUlp = 0x1000;
}
