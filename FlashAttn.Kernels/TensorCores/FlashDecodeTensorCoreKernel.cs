using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Decoding on tensor cores (flash-decoding inside one group): the few query rows of a KV-cache call — s_q × G ≤ 16
/// GQA-packed (position, head) rows of one kv head (<see cref="PackedQueryRows"/>) — against a long cache. The rows are
/// one m16 tile that every warp holds; the 4 warps split each key block instead (warp w takes keys 16w … 16w + 15), so
/// tensor-core work is a quarter of a 64-row tile's and the loop is bound by the cache's bytes, not by mma on padding.
/// Each warp runs the online softmax over its own keys (its m, ℓ, O); the epilogue merges the four through shared
/// memory: M = max m_w, ℓ = Σ ℓ_w·2^(m_w − M), O = Σ O_w·2^(m_w − M) / ℓ.
/// Grid (splits, h_kv, sequences): with splits &gt; 1 each group takes an even share of the key blocks and writes its
/// normalised O and L to the partial buffers, which <see cref="SplitCombineKernel"/> merges. K and V stream through a
/// two-stage cp.async ring as in <see cref="FlashForwardTensorCoreKernel"/>, whose parameters this kernel shares.
/// </summary>
internal static class FlashDecodeTensorCoreKernel
{
    /// <summary>Warps per group; each takes a quarter of every key block.</summary>
    public const int Warps = 4;

    /// <summary>Query rows (packed) one group serves: one m16 tile.</summary>
    public const int Rows = 16;

    /// <summary>Keys per block: 16 per warp.</summary>
    public const int BlockCols = 16 * Warps;

    /// <summary>Shared bytes: Q (16 rows), two stages of K and V (64 rows each) of the tile's elements; the epilogue reuses the stages.</summary>
    public static int SharedBytes(TensorCoreTile tile)
        => Math.Max((Rows + TensorCoreTile.Stages * 2 * BlockCols) * tile.Stride * tile.ElementBytes,
            Warps * (Rows * tile.HeadDimPadded + 2 * Rows) * sizeof(float));

    /// <summary>True when a call's packed rows fit one group: s_q × G ≤ 16.</summary>
    public static bool Takes(int maxQueries, int packedHeads) => maxQueries * packedHeads <= Rows;

    /// <summary>The kernel; arguments as <see cref="FlashForwardTensorCoreKernel.Forward{T, TStorage, TScore, TMask}"/>.</summary>
    [LaunchBounds(128, 2)]
    public static void Decode<T, TStorage, TScore, TMask>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse,
        AttentionParams p, SequenceInfo sequences, ArrayView<float> partialOutput, ArrayView<float> partialLse, AttentionModifiers<TScore, TMask> modifiers,
        SpecializedValue<int> headDimPadded, SpecializedValue<bool> causal, SpecializedValue<bool> chunked,
        SpecializedValue<int> sequenceKind, SpecializedValue<int> packedHeads, SpecializedValue<int> splits, SpecializedValue<int> modifierFlags)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T> where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var tile = new TensorCoreTile(headDimPadded.Value, Warps, decode: true, TStorage.ElementBytes);
        int dPad = tile.HeadDimPadded, bc = BlockCols, stride = tile.Stride;
        int kSteps = dPad / 16, dTiles = dPad / 8;
        int kind = sequenceKind.Value, packed = packedHeads.Value, splitCount = splits.Value;
        bool scoreModified = (modifierFlags.Value & AttentionModifiers<TScore, TMask>.ScoreFlag) != 0;
        bool maskModified = (modifierFlags.Value & AttentionModifiers<TScore, TMask>.MaskFlag) != 0;
        int warp = Group.IdxX / 32, lane = Warp.LaneIdx, g = lane / 4, t = lane % 4, kw = 16 * warp;
        int split = Grid.IdxX, head = Grid.IdxY, kvHead = packed > 1 ? Grid.IdxY : head / p.QueriesPerKvHead;
        var seq = sequences.Bounds(Grid.IdxZ, p, kind);
        int rows = XMath.Min(Rows, seq.QueryLength * packed);
        var mask = seq.Mask(p, causal.Value);
        var qLayout = TokenLayout.Queries(p);
        var kvLayout = TokenLayout.KeysValues(p);
        bool pagedRows = kind == SequenceKind.PagedKvCache && p.SeqLenK < bc;

        var shared = SharedMemory.GetDynamic<T>();
        var qTile = shared.SubView(0, Rows * stride);
        int stageElements = 2 * bc * stride;

        // Q's fragments stay in registers when small (TensorCoreTile.QueryInRegisters: 16-bit up to d' = 128); larger ones
        // are re-read from shared memory each block, a few ldmatrix beside the block's K and V bytes: kept, they made ptxas
        // spill (CUDA 12.4 and 13.0: 32/16 B at d' = 256 with 8-way packing, 16/16 B for 3×TF32 at d' = 128)
        bool queryInRegisters = tile.QueryInRegisters;
        var qFragments = LocalMemory.Allocate<int>(queryInRegisters ? TStorage.AWords * kSteps : 1);
        var a = LocalMemory.Allocate<int>(TStorage.AWords);
        var b = LocalMemory.Allocate<int>(TStorage.BWords);
        var s = LocalMemory.Allocate<float>(4 * 2);
        var o = LocalMemory.Allocate<float>(4 * dTiles);
        var rowMax = LocalMemory.Allocate<float>(2);
        var rowSum = LocalMemory.Allocate<float>(2);
        for (int e = 0; e < 4 * dTiles; e++) o[e] = 0f;
        for (int r = 0; r < 2; r++) { rowMax[r] = float.NegativeInfinity; rowSum[r] = 0f; }

        // ---- this group's key blocks (all, or its split's share); Q and the first K/V block in flight ----
        int positions = PackedQueryRows.Position(XMath.Max(rows, 1) - 1, packed) + 1;
        int visibleFirst = mask.FirstKeyBlock(0, bc), visibleEnd = rows > 0 ? XMath.Max(visibleFirst, mask.KeyBlockCount(0, positions, bc)) : visibleFirst;
        int splitBlocks = (visibleEnd - visibleFirst + splitCount - 1) / splitCount;
        int firstBlock = XMath.Min(visibleEnd, visibleFirst + split * splitBlocks), endBlock = XMath.Min(visibleEnd, firstBlock + splitBlocks);
        if (packed > 1)
            TensorCoreTileLoader.LoadRows<T, TStorage, PackedQueryRows>(q, new PackedQueryRows(qLayout, seq, 0, kvHead, packed), rows, p.HeadDim,
                qTile, stride, Rows, dPad, tile.Threads, chunked.Value);
        else
            TensorCoreTileLoader.Load<T, TStorage>(q, seq.QueryRowStart(qLayout, 0, head), qLayout.PositionStride, rows, p.HeadDim, qTile, stride, Rows, dPad,
                tile.Threads, chunked.Value, tile.ForwardPlainCopiesOfWholeTiles);
        if (firstBlock < endBlock)
            KeyValueBlock.Load<T, TStorage>(k, v, sequences, kvLayout, seq, firstBlock * bc, kvHead, p, kind, pagedRows,
                shared.SubView(Rows * stride + firstBlock % TensorCoreTile.Stages * stageElements, stageElements), bc, tile, chunked.Value);

        for (int block = firstBlock; block < endBlock; block++)
        {
            int k0 = block * bc;
            AsyncCopy.WaitAll();
            Group.Barrier();
            if (block + 1 < endBlock)
                KeyValueBlock.Load<T, TStorage>(k, v, sequences, kvLayout, seq, k0 + bc, kvHead, p, kind, pagedRows,
                    shared.SubView(Rows * stride + (block + 1) % TensorCoreTile.Stages * stageElements, stageElements), bc, tile, chunked.Value);
            var stage = shared.SubView(Rows * stride + block % TensorCoreTile.Stages * stageElements, stageElements);
            var kTile = stage.SubView(0, bc * stride);
            var vTile = stage.SubView(bc * stride, bc * stride);
            if (queryInRegisters && block == firstBlock)
                for (int kk = 0; kk < kSteps; kk++)
                    TStorage.LoadA(qTile, stride, 0, 16 * kk, qFragments, kk);

            // ---- S = Q K_wᵀ for this warp's 16 keys (two n8 tiles, one B operand pair per k-step) ----
            for (int e = 0; e < 8; e++) s[e] = 0f;
            for (int kk = 0; kk < kSteps; kk++)
            {
                TStorage.LoadB(kTile, stride, kw, 16 * kk, b, 0);
                if (queryInRegisters) TStorage.MultiplyAddTwoTiles(s, 0, qFragments, kk, b, 0);
                else
                {
                    TStorage.LoadA(qTile, stride, 0, 16 * kk, a, 0);
                    TStorage.MultiplyAddTwoTiles(s, 0, a, 0, b, 0);
                }
            }

            // ---- mask, through the modifiers where there are any (ModifiedScores.Score); online softmax over this warp's keys ----
            bool elementTest = maskModified || mask.BlockNeedsMask(0, positions, k0, bc);
            if (scoreModified || elementTest)
                for (int e = 0; e < 8; e++)
                {
                    int row = g + 8 * (e % 4 / 2), position = PackedQueryRows.Position(row, packed), key = k0 + kw + 8 * (e / 4) + 2 * t + e % 2;
                    var at = ModifiedScores.Position(seq.Index, packed > 1 ? PackedQueryRows.Head(row, kvHead, packed) : head, position, key, mask.Offset,
                        seq.QueryLength, seq.KeyLength);
                    s[e] = ModifiedScores.Score(s[e], at, (row < rows) & (key < seq.KeyLength), elementTest & ((row >= rows) | !mask.Visible(position, key)),
                        p, modifiers, scoreModified, maskModified);
                }
            FragmentSoftmax.Update(s, o, rowMax, rowSum, 1, 2, dTiles, ModifiedScores.SoftmaxScale(p, modifiers, scoreModified));

            // ---- O_w += P V_w: P's two accumulator tiles are one A operand (keys kw … kw + 15) ----
            TStorage.AccumulatorsAsA(s, 0, a, 0);
            for (int pair = 0; pair < dTiles / 2; pair++)
            {
                TStorage.LoadBTransposed(vTile, stride, kw, 16 * pair, b, 0);
                TStorage.MultiplyAddTwoTiles(o, 2 * pair, a, 0, b, 0);
            }
        }

        // ---- merge the warps: each leaves m, ℓ and its unnormalised O in shared (the stages are free after the barrier) ----
        AsyncCopy.WaitAll();
        Group.Barrier();
        var merge = shared.Cast<float>();
        int warpFloats = Rows * dPad + 2 * Rows;
        var mine = merge.SubView(warp * warpFloats, warpFloats);
        for (int r = 0; r < 2; r++)
        {
            int row = g + 8 * r;
            float sum = RowReduce.Sum(rowSum[r], 4);
            if (t == 0)
            {
                mine[Rows * dPad + row] = rowMax[r];
                mine[Rows * dPad + Rows + row] = sum;
            }
            for (int j = 0; j < dTiles; j++)
            {
                mine[row * dPad + 8 * j + 2 * t] = o[4 * j + 2 * r];
                mine[row * dPad + 8 * j + 2 * t + 1] = o[4 * j + 2 * r + 1];
            }
        }
        Group.Barrier();

        // ---- O = Σ_w O_w·2^(m_w − M) / ℓ and L = (M + log2 ℓ)·ln 2, a row that saw no key: O = 0, L = +∞ (a split: −∞) ----
        var statistics = RowStatisticsLayout.Of(p);
        long statisticRows = statistics.Elements(p.Batch);
        for (int e = Group.IdxX; e < rows * dPad; e += tile.Threads)
        {
            int row = e / dPad, column = e % dPad;
            float most = float.NegativeInfinity;
            for (int w = 0; w < Warps; w++) most = XMath.Max(most, merge[w * warpFloats + Rows * dPad + row]);
            float reference = most == float.NegativeInfinity ? 0f : most;
            float sum = 0f, value = 0f;
            for (int w = 0; w < Warps; w++)
            {
                float weight = XMath.FastExp2(merge[w * warpFloats + Rows * dPad + row] - reference);
                sum += weight * merge[w * warpFloats + Rows * dPad + Rows + row];
                value += weight * merge[w * warpFloats + row * dPad + column];
            }
            bool empty = sum == 0f;
            float result = empty ? 0f : value / sum;
            int position = PackedQueryRows.Position(row, packed), rowHead = packed > 1 ? PackedQueryRows.Head(row, kvHead, packed) : head;
            long statistic = seq.StatisticIndex(statistics, rowHead, position);
            float rowLse = (most + XMath.Log2(sum)) * SoftmaxConstants.Ln2;
            if (splitCount > 1)
            {
                if (column < p.HeadDim) partialOutput[(split * statisticRows + statistic) * p.HeadDim + column] = result;
                if (column == 0) partialLse[split * statisticRows + statistic] = empty ? float.NegativeInfinity : rowLse;
            }
            else
            {
                if (column < p.HeadDim) output[seq.QueryRowStart(qLayout, position, rowHead) + column] = TStorage.Store(result);
                if (column == 0) lse[statistic] = empty ? float.PositiveInfinity : rowLse;
            }
        }
    }
}
