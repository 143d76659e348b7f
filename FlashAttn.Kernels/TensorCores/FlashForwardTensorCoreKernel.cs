using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// FlashAttention-2 forward (Dao 2023, Algorithm 1) on tensor cores, fp16/bf16 (or fp32 as 3×TF32) in, fp32 accumulation. Notation as the
/// paper: S = Q K_jᵀ (scaled, log2 domain), m = running row max (<c>rowMax</c>), ℓ = running row sum (<c>rowSum</c>,
/// each lane's share until the epilogue), O = unnormalised output (<c>o</c>).
/// <list type="bullet">
/// <item>Each warp (4, or 8 in the large-head tile) owns <see cref="TensorCoreTile.RowTilesPerWarp"/> tiles of 16 query
/// rows (the m of mma); a lane holds rows g and g+8 of each (lane = 4g + t). Every K/V fragment read from shared memory feeds
/// all of the warp's row tiles.</item>
/// <item>Q is read as A fragments (kept in registers when small, else re-read from shared per K block); K and V go
/// global → shared by cp.async into a ring of two stages, one barrier per block: block j + 1 streams in during block j,
/// its copies issued at the block's start or, above d' = 64, just before P·V (<see cref="TensorCoreTile.ForwardCopiesBeforePv"/>).</item>
/// <item>S accumulates in fp32 registers; the online softmax runs on the accumulator fragments (row max and sum across
/// the quad by two shuffles); P is rounded to the storage in registers (3×TF32: split) and is directly the A operand of P·V.</item>
/// </list>
/// Grid (⌈s_q/Br⌉ · splits, h_q / G, sequences), Q tiles last-first (the longest causal rows start first),
/// <see cref="TensorCoreTile"/> sizes. Sequences of any <see cref="SequenceKind"/>: packed (varlen) or against a KV cache,
/// contiguous or paged. With G &gt; 1 (GQA packing) a tile's rows are the (position, head) pairs of one kv head
/// (<see cref="PackedQueryRows"/>); with splits &gt; 1 (split-KV) each group takes an even share of the key blocks and
/// writes its normalised O and L to the partial buffers, which <see cref="SplitCombineKernel"/> merges.
/// </summary>
internal static class FlashForwardTensorCoreKernel
{
    /// <summary>
    /// The kernel. q (b, s_q, h_q, d), k and v (b, s_k, h_kv, d), output like q, lse (b, h_q, s_q) fp32 natural log (layouts
    /// of other sequence kinds: <see cref="SequenceInfo"/>). <paramref name="headDimPadded"/> and <paramref name="warps"/>:
    /// <see cref="TensorCoreTile.ForForward"/>'s;
    /// <paramref name="chunked"/>: d a multiple of 8 and every tensor 16-byte aligned (cp.async staging, packed stores).
    /// partialOutput (splits, rows, d) and partialLse (splits, rows), rows in <see cref="RowStatisticsLayout"/> order: used
    /// when <paramref name="splits"/> &gt; 1, in place of output and lse.
    /// </summary>
    [LaunchBounds(256, 1)]
    public static void Forward<T, TStorage, TScore, TMask>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse,
        AttentionParams p, SequenceInfo sequences, ArrayView<float> partialOutput, ArrayView<float> partialLse, AttentionModifiers<TScore, TMask> modifiers,
        int tailUnits, SpecializedValue<int> headDimPadded, SpecializedValue<int> warps, SpecializedValue<bool> causal, SpecializedValue<bool> chunked,
        SpecializedValue<int> sequenceKind, SpecializedValue<int> packedHeads, SpecializedValue<int> splits, SpecializedValue<int> modifierFlags)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T> where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var tile = new TensorCoreTile(headDimPadded.Value, warps.Value, sequenceKind.Value is SequenceKind.KvCache or SequenceKind.PagedKvCache, TStorage.ElementBytes);
        int dPad = tile.HeadDimPadded, br = tile.BlockRows, bc = tile.BlockCols, stride = tile.Stride, mTiles = tile.RowTilesPerWarp;
        int kSteps = dPad / 16, keyTiles = bc / 8, dTiles = dPad / 8;
        int kind = sequenceKind.Value, packed = packedHeads.Value, splitCount = splits.Value;
        bool scoreModified = (modifierFlags.Value & AttentionModifiers<TScore, TMask>.ScoreFlag) != 0;
        bool maskModified = (modifierFlags.Value & AttentionModifiers<TScore, TMask>.MaskFlag) != 0;
        bool dropout = (modifierFlags.Value & AttentionModifiers<TScore, TMask>.DropoutFlag) != 0;
        // with a score or mask modifier, every phi copy written (PhiCopies): measured 1–3% faster so (H100, 2026-12-07: ALiBi,
        // a user bias, a document and a block mask), where plain attention's forward (and dropout's) gains 1.5–6% from sharing
        if (scoreModified | maskModified) PhiCopies.KeepAll();
        int warp = Group.IdxX / 32, lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        // grid (Q tiles · splits, h_q / G, sequences), in TileOrder's order: the tiles of one head run together, so its K and V
        // are read from L2 by all of them; each head's tiles run last-first, so under a causal mask the longest rows start
        // first (the grid's last heads all their longest first). Rows are packed (position, head) pairs when G > 1: q0
        // counts packed rows.
        var order = TileOrder.Current(causal.Value, tailUnits);
        int split = order.Rank % splitCount, q0 = (Grid.DimX / splitCount - 1 - order.Rank / splitCount) * br, warpRow = 16 * mTiles * warp;
        var seq = sequences.Bounds(order.Z, p, kind);
        int rows = seq.QueryLength * packed;
        if (q0 >= rows) return; // past this sequence's queries (varlen): the whole group leaves before any barrier
        int head = order.Y, kvHead = packed > 1 ? order.Y : head / p.QueriesPerKvHead;
        var mask = seq.Mask(p, causal.Value);
        // the query positions rows [q0, q0 + Br) cover: the mask's block ranges are in positions
        int position0 = PackedQueryRows.Position(q0, packed), positions = PackedQueryRows.Position(q0 + br - 1, packed) - position0 + 1;
        var qLayout = TokenLayout.Queries(p);
        var kvLayout = TokenLayout.KeysValues(p);
        bool pagedRows = kind == SequenceKind.PagedKvCache && p.SeqLenK < bc; // pages shorter than a K block: rows one by one

        // shared: Q, then Stages × (K, V), then (3×TF32 with 8 warps) the block's K and V split into (hi, lo) pairs
        var shared = SharedMemory.GetDynamic<T>();
        var qTile = shared.SubView(0, br * stride);
        int stageElements = 2 * bc * stride;
        bool splitKeyValues = tile.ForwardSplitsKeyValues;
        ArrayView<int> keySplit = default, valueSplit = default;
        if (splitKeyValues)
        {
            var splitTiles = shared.SubView(br * stride + TensorCoreTile.Stages * stageElements, Tf32SplitTiles.Bytes(bc, dPad) / TStorage.ElementBytes).Cast<int>();
            keySplit = splitTiles.SubView(0, Tf32SplitTiles.KeyWords(bc, dPad));
            valueSplit = splitTiles.SubView(Tf32SplitTiles.KeyWords(bc, dPad), Tf32SplitTiles.ValueWords(bc, dPad));
        }

        // registers: row tile m of this warp holds rows warpRow + 16m + g (+8); accumulator tile (m, j) is index m·tiles + j
        var qFragments = LocalMemory.Allocate<int>(TStorage.AWords * mTiles * kSteps);
        var a = LocalMemory.Allocate<int>(TStorage.AWords * mTiles); // one k step of Q's fragments (or one of P's)
        var b = LocalMemory.Allocate<int>(TStorage.BWords);
        var s = LocalMemory.Allocate<float>(4 * mTiles * keyTiles);
        bool packedP = TStorage.AWords * (bc / 16) < 4 * keyTiles;
        var pFragments = LocalMemory.Allocate<int>(packedP ? TStorage.AWords * mTiles * (bc / 16) : 1);
        var o = LocalMemory.Allocate<float>(4 * mTiles * dTiles);
        var rowMax = LocalMemory.Allocate<float>(2 * mTiles);
        var rowSum = LocalMemory.Allocate<float>(2 * mTiles);
        for (int e = 0; e < 4 * mTiles * dTiles; e++) o[e] = 0f;
        for (int r = 0; r < 2 * mTiles; r++) { rowMax[r] = float.NegativeInfinity; rowSum[r] = 0f; }

        // ---- this group's key blocks: those its rows' windows reach, or its split's even share of them; a block mask skips
        //      the empty ones (no load, no math). Prologue: Q_i and the first K, V block in flight ----
        int visibleFirst = mask.FirstKeyBlock(position0, bc), visibleEnd = XMath.Max(visibleFirst, mask.KeyBlockCount(position0, positions, bc));
        int splitBlocks = (visibleEnd - visibleFirst + splitCount - 1) / splitCount;
        int firstBlock = XMath.Min(visibleEnd, visibleFirst + split * splitBlocks), endBlock = XMath.Min(visibleEnd, firstBlock + splitBlocks);
        int validRows = XMath.Min(br, rows - q0);
        if (packed > 1)
            TensorCoreTileLoader.LoadRows<T, TStorage, PackedQueryRows>(q, new PackedQueryRows(qLayout, seq, q0, kvHead, packed), validRows, p.HeadDim,
                qTile, stride, br, dPad, tile.Threads, chunked.Value);
        else
            TensorCoreTileLoader.Load<T, TStorage>(q, seq.QueryRowStart(qLayout, q0, head), qLayout.PositionStride, validRows, p.HeadDim, qTile, stride, br, dPad,
                tile.Threads, chunked.Value, tile.ForwardPlainCopiesOfWholeTiles);
        var walk = BlockMaskWalk.AlongKeys(modifiers, modifierFlags.Value, seq.Index, head, q0, br, bc, endBlock);
        var window = walk.WindowAt(firstBlock);
        int block = walk.Next(firstBlock, ref window);
        if (block < endBlock)
            KeyValueBlock.Load<T, TStorage>(k, v, sequences, kvLayout, seq, block * bc, kvHead, p, kind, pagedRows,
                shared.SubView(br * stride, stageElements), bc, tile, chunked.Value);

        for (int iteration = 0; block < endBlock; iteration++)
        {
            int k0 = block * bc;
            // this block's class and the next block the mask does not empty (BlockMaskWalk: shuffles, before the wait that hides them)
            byte blockClass = walk.ClassOf(block, window);
            int next = walk.Next(block + 1, ref window);
            // K_j, V_j have landed, and every warp is done with the block before: its stage takes the next block, whose
            // copies start here or, in the tiles that say so, just before P·V (TensorCoreTile.ForwardCopiesBeforePv)
            AsyncCopy.WaitAll();
            Group.Barrier();
            var nextStage = shared.SubView(br * stride + TensorCoreTile.Stage(iteration + 1) * stageElements, stageElements);
            if (!tile.ForwardCopiesBeforePv && next < endBlock)
                KeyValueBlock.Load<T, TStorage>(k, v, sequences, kvLayout, seq, next * bc, kvHead, p, kind, pagedRows, nextStage, bc, tile, chunked.Value);
            var stage = shared.SubView(br * stride + TensorCoreTile.Stage(iteration) * stageElements, stageElements);
            var kTile = stage.SubView(0, bc * stride);
            var vTile = stage.SubView(bc * stride, bc * stride);
            if (splitKeyValues)
            {
                // 3×TF32: K_j and V_j split once for all warps (every warp is done with the block before's split tiles)
                Tf32SplitTiles.Split(stage.Cast<float>(), stride, keySplit, valueSplit, bc, dPad, tile.Threads);
                Group.Barrier();
            }
            if (tile.QueryInRegisters && iteration == 0)
                for (int m = 0; m < mTiles; m++)
                    for (int kk = 0; kk < kSteps; kk++)
                        TStorage.LoadA(qTile, stride, warpRow + 16 * m, 16 * kk, qFragments, m * kSteps + kk);

            // ---- S = Q K_jᵀ: each K fragment feeds every row tile of the warp, each Q fragment every key tile (read from
            //      shared memory once per k step: ptxas merged the re-reads of one per key pair in the dense kernels, not in
            //      the block-mask ones, 96 LDSM a block instead of 48) ----
            for (int e = 0; e < 4 * mTiles * keyTiles; e++) s[e] = 0f;
            for (int kk = 0; kk < kSteps; kk++)
            {
                if (!tile.QueryInRegisters)
                    for (int m = 0; m < mTiles; m++)
                        TStorage.LoadA(qTile, stride, warpRow + 16 * m, 16 * kk, a, m);
                for (int pair = 0; pair < keyTiles / 2; pair++)
                {
                    // keys 16·pair… × head dims 16·kk…: B operands of two key tiles
                    if (splitKeyValues) Tf32SplitTiles.LoadB(keySplit, dPad, 16 * pair, 16 * kk, b, 0);
                    else TStorage.LoadB(kTile, stride, 16 * pair, 16 * kk, b, 0);
                    for (int m = 0; m < mTiles; m++)
                    {
                        int at = m * keyTiles + 2 * pair;
                        if (tile.QueryInRegisters) TStorage.MultiplyAddTwoTiles(s, at, qFragments, m * kSteps + kk, b, 0);
                        else TStorage.MultiplyAddTwoTiles(s, at, a, m, b, 0);
                    }
                }
            }

            // ---- mask, through the modifiers where there are any (ModifiedScores.Score); online softmax: P = exp2(S·scale − m_new), ℓ and O rescaled ----
            // the causal/window test on blocks that cross an edge; the mask modifier's test on tiles a block mask does not mark full
            bool edgeTest = mask.BlockNeedsMask(position0, positions, k0, bc);
            bool maskTest = maskModified && AttentionModifiers<TScore, TMask>.TestsMaskOn(modifierFlags.Value, blockClass);
            // through the modifiers where there are any: two instances, so that a block inside the sequence's bounds has no
            // position clamp at all (a ragged block's rows and keys past them read the modifiers' data clamped into it)
            if (scoreModified | maskTest)
            {
                if ((q0 + br > rows) | (k0 + bc > seq.KeyLength))
                    ModifyScores(s, mTiles, keyTiles, q0 + warpRow, k0, packed, head, kvHead, seq, mask, p, modifiers, scoreModified, maskTest, clamped: true);
                else
                    ModifyScores(s, mTiles, keyTiles, q0 + warpRow, k0, packed, head, kvHead, seq, mask, p, modifiers, scoreModified, maskTest, clamped: false);
            }
            // the causal/window test and s_k's end on the blocks that cross an edge, after the modifiers: what it hides is −∞
            // whatever they made of it (rows past the sequence are never stored, so they need no test). Apart from the
            // modifiers' own code, which it would join, its few registers keep the modifiers' elements from spilling
            if (edgeTest)
                for (int e = 0; e < 4 * mTiles * keyTiles; e++)
                {
                    int m = e / (4 * keyTiles), j = e / 4 % keyTiles;
                    int position = PackedQueryRows.Position(q0 + warpRow + 16 * m + g + 8 * (e % 4 / 2), packed);
                    if (!mask.Visible(position, k0 + 8 * j + 2 * t + e % 2)) s[e] = float.NegativeInfinity;
                }
            FragmentSoftmax.Update(s, o, rowMax, rowSum, mTiles, keyTiles, dTiles, ModifiedScores.SoftmaxScale(p, modifiers, scoreModified));
            // ---- dropout: ℓ keeps the whole P; P·V takes the kept entries, and their scale 1/(1 − p') joins 1/ℓ in the
            //      epilogue (one multiply a row, not one a score). No bounds test: keys past the sequence have P = 0 already
            //      (the edge blocks' mask), rows past it are never stored. Grouped by (row tile m, four key tiles): the lane's
            //      16 entries there (rows g, g + 8 × keys 2t, 2t + 1 of tiles 4·quad … 4·quad + 3; k0 is a multiple of Bc,
            //      itself of 32) are one Dropout group, so one Philox call serves them all ----
            if (dropout)
                for (int m = 0; m < mTiles; m++)
                    for (int quad = 0; quad < (keyTiles + 3) / 4; quad++)
                    {
                        var group = default(PhiloxBlock);
                        for (int r = 0; r < 2; r++)
                        {
                            int row = q0 + warpRow + 16 * m + g + 8 * r, position = PackedQueryRows.Position(row, packed);
                            int rowHead = packed > 1 ? PackedQueryRows.Head(row, kvHead, packed) : head;
                            // row g + 8 is position g + 8 of the same head (query bit 3 picks the entry), unless GQA packing
                            // made it another (position, head) pair: then it takes its own call
                            if (r == 0 || packed > 1) group = p.DropoutGroup(seq.Index, rowHead, position, k0 + 32 * quad + 2 * t);
                            for (int tileInQuad = 0; tileInQuad < 4; tileInQuad++)
                                for (int c = 0; c < 2; c++)
                                {
                                    int j = 4 * quad + tileInQuad;
                                    if (j >= keyTiles) continue;
                                    int e = 4 * (m * keyTiles + j) + 2 * r + c;
                                    // the entry's bits, constants (tile j: key bits 3 and 4), but position bit 3 when packed
                                    int index = Dropout.Index(packed > 1 ? (position >> 3) & 1 : r, c, j & 1, (j >> 1) & 1);
                                    s[e] = Dropout.Kept(group, index, p.DropoutThreshold) ? s[e] : 0f;
                                }
                        }
                    }

            if (tile.ForwardCopiesBeforePv && next < endBlock)
                KeyValueBlock.Load<T, TStorage>(k, v, sequences, kvLayout, seq, next * bc, kvHead, p, kind, pagedRows, nextStage, bc, tile, chunked.Value);

            // ---- O += P V_j: P's accumulators, rounded to the storage, are the A operands (keys 16·kk …). Rounded all at once
            //      where the operands are smaller than the fp32 scores (fp16/bf16: half): the scores' registers die before
            //      P·V, not one k-step at a time during it ----
            if (packedP)
                for (int m = 0; m < mTiles; m++)
                    for (int kk = 0; kk < bc / 16; kk++)
                        TStorage.AccumulatorsAsA(s.SubView(4 * m * keyTiles, 4 * keyTiles), kk, pFragments, m * (bc / 16) + kk);
            for (int kk = 0; kk < bc / 16; kk++)
                for (int pair = 0; pair < dTiles / 2; pair++)
                {
                    // keys 16·kk… × head dims 16·pair…, from V's rows: B operands of two d tiles
                    if (splitKeyValues) Tf32SplitTiles.LoadBTransposed(valueSplit, dPad, 16 * kk, 16 * pair, b, 0);
                    else TStorage.LoadBTransposed(vTile, stride, 16 * kk, 16 * pair, b, 0);
                    for (int m = 0; m < mTiles; m++)
                    {
                        if (packedP)
                            TStorage.MultiplyAddTwoTiles(o, m * dTiles + 2 * pair, pFragments, m * (bc / 16) + kk, b, 0);
                        else
                        {
                            TStorage.AccumulatorsAsA(s.SubView(4 * m * keyTiles, 4 * keyTiles), kk, a, 0);
                            TStorage.MultiplyAddTwoTiles(o, m * dTiles + 2 * pair, a, 0, b, 0);
                        }
                    }
                }
            block = next;
        }

        // ---- epilogue: O_i = O / ℓ_i (with dropout · 1/(1 − p')), L_i = (m_i + log2 ℓ_i) · ln 2; a row that saw no key gets
        //      O = 0, L = +∞ (a split that saw none: L = −∞, weight 0 in the combine) ----
        var statistics = RowStatisticsLayout.Of(p);
        long statisticRows = statistics.Elements(p.Batch);
        for (int m = 0; m < mTiles; m++)
            for (int r = 0; r < 2; r++)
            {
                float sum = RowReduce.Sum(rowSum[2 * m + r], 4); // before the branch: the whole warp shuffles
                int row = q0 + warpRow + 16 * m + g + 8 * r;
                if (row >= rows) continue;
                int position = PackedQueryRows.Position(row, packed), rowHead = packed > 1 ? PackedQueryRows.Head(row, kvHead, packed) : head;
                bool empty = sum == 0f;
                float inverse = empty ? 0f : (dropout ? p.DropoutScale : 1f) / sum;
                long statistic = seq.StatisticIndex(statistics, rowHead, position);
                float rowLse = (rowMax[2 * m + r] + XMath.Log2(sum)) * SoftmaxConstants.Ln2;
                if (splitCount > 1)
                {
                    long partialFirst = (split * statisticRows + statistic) * p.HeadDim;
                    for (int j = 0; j < dTiles; j++)
                    {
                        int column = 8 * j + 2 * t, at = 4 * (m * dTiles + j) + 2 * r;
                        if (column < p.HeadDim) partialOutput[partialFirst + column] = o[at] * inverse;
                        if (column + 1 < p.HeadDim) partialOutput[partialFirst + column + 1] = o[at + 1] * inverse;
                    }
                    if (t == 0) partialLse[split * statisticRows + statistic] = empty ? float.NegativeInfinity : rowLse;
                    continue;
                }
                long outFirst = seq.QueryRowStart(qLayout, position, rowHead);
                for (int j = 0; j < dTiles; j++)
                {
                    int column = 8 * j + 2 * t, at = 4 * (m * dTiles + j) + 2 * r;
                    float x = o[at] * inverse, y = o[at + 1] * inverse;
                    if (chunked.Value)
                    {
                        if (column < p.HeadDim) TStorage.StorePair(output, outFirst + column, x, y);
                    }
                    else
                    {
                        if (column < p.HeadDim) output[outFirst + column] = TStorage.Store(x);
                        if (column + 1 < p.HeadDim) output[outFirst + column + 1] = TStorage.Store(y);
                    }
                }
                if (t == 0) lse[statistic] = empty ? float.PositiveInfinity : rowLse;
            }
    }

    /// <summary>
    /// S of key block <paramref name="k0"/> through the score and mask modifiers (<see cref="ModifiedScores.Score"/>: in the
    /// units of <see cref="ModifiedScores.SoftmaxScale"/>): the lane's element e = 4·(m·keyTiles + j) + 2·half + c is row
    /// <paramref name="firstRow"/> + 16m + g + 8·half, key k0 + 8j + 2t + c. Positions clamped into the sequence only where
    /// <paramref name="clamped"/> (a constant at each call: a ragged block); the causal/window test and the bounds are the
    /// caller's, on the result.
    /// </summary>
    private static void ModifyScores<TScore, TMask>(ArrayView<float> s, int mTiles, int keyTiles, int firstRow, int k0, int packed, int head,
        int kvHead, SequenceBounds seq, AttentionMask mask, AttentionParams p, AttentionModifiers<TScore, TMask> modifiers, bool scoreModified,
        bool maskTest, bool clamped) where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        for (int e = 0; e < 4 * mTiles * keyTiles; e++)
        {
            int m = e / (4 * keyTiles), j = e / 4 % keyTiles, row = firstRow + 16 * m + g + 8 * (e % 4 / 2);
            int position = PackedQueryRows.Position(row, packed), key = k0 + 8 * j + 2 * t + e % 2;
            int rowHead = packed > 1 ? PackedQueryRows.Head(row, kvHead, packed) : head;
            var at = ModifiedScores.Position(seq.Index, rowHead, position, key, mask.Offset, seq.QueryLength, seq.KeyLength, inBounds: !clamped);
            s[e] = ModifiedScores.Score(s[e], at, inside: true, hidden: false, p, modifiers, scoreModified, maskTest);
        }
    }
}
