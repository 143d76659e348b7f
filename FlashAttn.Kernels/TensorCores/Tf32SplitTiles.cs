using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// The 3×TF32 forward's K and V blocks split once into shared tiles of (hi, lo) word pairs that every warp reads, where each
/// warp split the fragments it loaded (<see cref="Tf32SplitStorage.LoadB"/>): at d' = 128 one row tile a warp, so each
/// K/V element was split by each of the group's warps, four integer/FP instructions a time (7 SASS instructions per HMMA
/// against 5.3 at d' = 64, where two row tiles share a split). Here a group of 8 warps splits each element once, in a
/// pass between the block's arrival and its products, and the products read each operand's two words by one 64-bit load:
/// 4.7 per HMMA. Measured (H100, 2026-12-07): forward +4.7 to +8.2%, less than the instruction count promised, so the
/// issue slots were not the main bound.
/// </summary>
/// <remarks>
/// The words are laid out so that each 64-bit load fills exactly the register pair an mma operand takes (b0, b1: the hi
/// parts of its two k, or the lo parts), so no moves join them. K ([key][d], B operand of S = Q Kᵀ: b0, b1 at head dims
/// t and t + 4 of a k8 step): a row holds first the hi pairs (hi(8c + t), hi(8c + t + 4)) for every 8 columns c and t,
/// then the lo pairs, 4 pairs of padding (<see cref="KeyStride"/>). V ([key][d], B operand of P·V: b0, b1 at keys 2t and
/// 2t + 1 in the k order P takes): a row per key pair holds the hi pairs (hi(2i, n), hi(2i + 1, n)) for every column n,
/// then the lo pairs, and padding (<see cref="ValueStride"/>). A 64-bit load is served per half-warp (16 pairs, 32 banks):
/// lanes g = 0…3 read rows (keys, or key pairs for V) t = 0…3 apart by the stride ≡ 4 mod 16 pairs and pairs
/// t (K) or g (V) apart by one: 16 different banks pairs, conflict-free. Words hold the bits
/// <see cref="Tf32SplitStorage.Split(float, out int, out int)"/> gives, so the products and results are bit for bit the
/// per-warp split's.
/// </remarks>
internal static class Tf32SplitTiles
{
    /// <summary>Pairs per row of the split K tile: d'/2 hi pairs, d'/2 lo pairs, 4 of padding (≡ 4 mod 16 for d' a
    /// multiple of 16).</summary>
    public static int KeyStride(int headDimPadded) => headDimPadded + 4;

    /// <summary>Pairs per key-pair row of the split V tile: d' hi pairs, d' lo pairs, 4 of padding (≡ 4 mod 16).</summary>
    public static int ValueStride(int headDimPadded) => 2 * headDimPadded + 4;

    /// <summary>Shared bytes of both split tiles of a block of <paramref name="rows"/> keys (an even number).</summary>
    public static int Bytes(int rows, int headDimPadded) => (rows * KeyStride(headDimPadded) + rows / 2 * ValueStride(headDimPadded)) * 2 * sizeof(float);

    /// <summary>Words of the split K tile of <paramref name="rows"/> keys.</summary>
    public static int KeyWords(int rows, int headDimPadded) => 2 * rows * KeyStride(headDimPadded);

    /// <summary>Words of the split V tile of <paramref name="rows"/> keys.</summary>
    public static int ValueWords(int rows, int headDimPadded) => rows * ValueStride(headDimPadded);

    /// <summary>
    /// Splits the raw K and V tiles of a stage (<paramref name="rows"/> rows of <paramref name="stride"/> floats each, K then V,
    /// as <see cref="KeyValueBlock.Load"/> staged them) into <paramref name="keys"/> and <paramref name="values"/>: per
    /// thread and item, 8 elements read by two 16-byte loads and written as four 16-byte runs of pairs. A thread issues the
    /// loads of all its items of both tiles before it splits and stores any: one item at a time, each split waited for its own
    /// loads (ptxas does not move a shared load above the shared stores before it), and ncu put 134k of the kernel's
    /// 1,234k stall samples on those waits (H100, 2026-12-07, d' = 128). Every thread of the group calls; the caller places
    /// the barrier before the tiles are read.
    /// </summary>
    public static void Split(ArrayView<float> stage, int stride, ArrayView<int> keys, ArrayView<int> values, int rows, int headDimPadded, int threads)
    {
        var rawKeys = stage.SubView(0, rows * stride);
        var rawValues = stage.SubView(rows * stride, rows * stride);
        int octetsPerRow = headDimPadded / 8, keyItems = rows * octetsPerRow, keyRounds = (keyItems + threads - 1) / threads;
        var keyOctets = LocalMemory.Allocate<Float4>(2 * keyRounds);
        for (int round = 0; round < keyRounds; round++)
        {
            // one key × head dims 8c … 8c + 7
            int item = round * threads + Group.IdxX;
            if (keyItems % threads != 0 && item >= keyItems) continue;
            int row = item / octetsPerRow, octet = item % octetsPerRow;
            keyOctets[2 * round] = rawKeys.SubView(row * stride + 8 * octet, 4).Cast<Float4>()[0];
            keyOctets[2 * round + 1] = rawKeys.SubView(row * stride + 8 * octet + 4, 4).Cast<Float4>()[0];
        }
        int quadsPerRow = headDimPadded / 4, valueItems = rows / 2 * quadsPerRow, valueRounds = (valueItems + threads - 1) / threads;
        var valueQuads = LocalMemory.Allocate<Float4>(2 * valueRounds);
        for (int round = 0; round < valueRounds; round++)
        {
            // keys 2i, 2i + 1 × head dims 4c … 4c + 3
            int item = round * threads + Group.IdxX;
            if (valueItems % threads != 0 && item >= valueItems) continue;
            int pair = item / quadsPerRow, quad = item % quadsPerRow;
            valueQuads[2 * round] = rawValues.SubView(2 * pair * stride + 4 * quad, 4).Cast<Float4>()[0];
            valueQuads[2 * round + 1] = rawValues.SubView((2 * pair + 1) * stride + 4 * quad, 4).Cast<Float4>()[0];
        }
        for (int round = 0; round < keyRounds; round++)
        {
            // hi pairs (8c + t, 8c + t + 4) for t = 0…3, then the lo pairs
            int item = round * threads + Group.IdxX;
            if (keyItems % threads != 0 && item >= keyItems) continue;
            int row = item / octetsPerRow, octet = item % octetsPerRow;
            int rowFirst = 2 * row * KeyStride(headDimPadded);
            StorePairs(keys, rowFirst + 8 * octet, rowFirst + headDimPadded + 8 * octet, keyOctets[2 * round], keyOctets[2 * round + 1]);
        }
        for (int round = 0; round < valueRounds; round++)
        {
            // hi pairs (2i, n), (2i + 1, n), then the lo pairs
            int item = round * threads + Group.IdxX;
            if (valueItems % threads != 0 && item >= valueItems) continue;
            int pair = item / quadsPerRow, quad = item % quadsPerRow;
            int rowFirst = pair * ValueStride(headDimPadded) * 2;
            StorePairs(values, rowFirst + 8 * quad, rowFirst + 2 * headDimPadded + 8 * quad, valueQuads[2 * round], valueQuads[2 * round + 1]);
        }
    }

    /// <summary>Words [<paramref name="high"/>, +8) ← (hi(a.X), hi(b.X)), (hi(a.Y), hi(b.Y)), …; [<paramref name="low"/>, +8) the
    /// lo parts alike: two 16-byte stores each.</summary>
    private static void StorePairs(ArrayView<int> tile, int high, int low, Float4 a, Float4 b)
    {
        Tf32SplitStorage.Split(a.X, out int ah0, out int al0);
        Tf32SplitStorage.Split(a.Y, out int ah1, out int al1);
        Tf32SplitStorage.Split(a.Z, out int ah2, out int al2);
        Tf32SplitStorage.Split(a.W, out int ah3, out int al3);
        Tf32SplitStorage.Split(b.X, out int bh0, out int bl0);
        Tf32SplitStorage.Split(b.Y, out int bh1, out int bl1);
        Tf32SplitStorage.Split(b.Z, out int bh2, out int bl2);
        Tf32SplitStorage.Split(b.W, out int bh3, out int bl3);
        var highs = tile.SubView(high, 8).Cast<Int4>();
        highs[0] = new Int4(ah0, bh0, ah1, bh1);
        highs[1] = new Int4(ah2, bh2, ah3, bh3);
        var lows = tile.SubView(low, 8).Cast<Int4>();
        lows[0] = new Int4(al0, bl0, al1, bl1);
        lows[1] = new Int4(al2, bl2, al3, bl3);
    }

    /// <summary><see cref="Tf32SplitStorage.LoadB"/> from the split K tile: B operand pair <paramref name="index"/> ← keys
    /// <paramref name="n0"/>… × head dims <paramref name="k0"/>…, the same words (8j + 4h + 2·part + r), two 64-bit loads
    /// a k8 half.</summary>
    public static void LoadB(ArrayView<int> keys, int headDimPadded, int n0, int k0, ArrayView<int> b, int index)
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4, stride = KeyStride(headDimPadded);
        var pairs = keys.Cast<Int2>();
        for (int j = 0; j < 2; j++)
            for (int h = 0; h < 2; h++)
            {
                int high = (n0 + 8 * j + g) * stride + (k0 + 8 * h) / 2 + t, at = 16 * index + 8 * j + 4 * h;
                Place(pairs[high], pairs[high + headDimPadded / 2], b, at);
            }
    }

    /// <summary><see cref="Tf32SplitStorage.LoadBTransposed"/> from the split V tile: B operand pair <paramref name="index"/> ←
    /// keys <paramref name="k0"/>… × head dims <paramref name="n0"/>…, the same words, two 64-bit loads a k8 half.</summary>
    public static void LoadBTransposed(ArrayView<int> values, int headDimPadded, int k0, int n0, ArrayView<int> b, int index)
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4, stride = ValueStride(headDimPadded);
        var pairs = values.Cast<Int2>();
        for (int j = 0; j < 2; j++)
            for (int h = 0; h < 2; h++)
            {
                int high = ((k0 + 8 * h) / 2 + t) * stride + n0 + 8 * j + g, at = 16 * index + 8 * j + 4 * h;
                Place(pairs[high], pairs[high + headDimPadded], b, at);
            }
    }

    private static void Place(Int2 high, Int2 low, ArrayView<int> b, int at)
    {
        b[at] = high.X;
        b[at + 1] = high.Y;
        b[at + 2] = low.X;
        b[at + 3] = low.Y;
    }
}
