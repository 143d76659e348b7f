using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// FlashAttention-2 backward (Dao 2023, Algorithm 2) on tensor cores, one group per (K/V block, head, column group).
/// Notation as the paper, transposed so that keys are the m of mma.m16n8k16 and the query rows of a Q block the n:
/// Sᵀ = K_j Q_iᵀ, Pᵀ = exp2(Sᵀ·scale·log2 e − L·log2 e), dPᵀ = V_j dO_iᵀ, dSᵀ = Pᵀ ∘ (dPᵀ − D), dQ_i += dS K_j,
/// dV_j += Pᵀ dO_i, dK_j += dSᵀ Q_i. Each product has its own warp grid (<see cref="TensorCoreTile"/>), as FA2's: Sᵀ and
/// dPᵀ in tiles of 16–64 keys × 32 rows, dQ in 32 × 32 (or 32 × d'/4), dV and dK in 32 keys × a part of the columns, so
/// that every fragment read from shared memory feeds two or more mma; Pᵀ and dSᵀ go through shared memory between them
/// (rounded to the storage, as the operands they become). dQ·scale goes to the fp32 accumulator by atomics; dK·scale
/// and dV, which one group owns whole, straight to dk and dv in their storage without GQA, else to per-query-head fp32
/// buffers (the convert kernel rounds dQ and sums the GQA heads). Grid (⌈s_k/Bc⌉ · column groups, h_q, b).
/// </summary>
internal static class FlashBackwardTensorCoreKernel
{
    /// <summary>
    /// The kernel. lse (b, h_q, s_q) natural log; delta = rowsum(dO ∘ O) (b, h_q, s_q); dqAccum (b, s_q, h_q, d) fp32 zeroed;
    /// dkAccum, dvAccum (b, s_k, h_q, d) fp32, or with <paramref name="kvDirect"/> (h_q = h_kv) dk and dv themselves, in k's
    /// layout. <paramref name="headDimPadded"/>: <see cref="TensorCoreTile.ForBackward"/>'s. <paramref name="dqStaged"/>
    /// (<see cref="TensorCoreTile.StagesDq"/>): dQ goes through shared memory and bulk reductions instead of per-lane atomics.
    /// </summary>
    [LaunchBounds(256, 1)]
    public static void Backward<T, TStorage, TScore, TMask>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> dOutput,
        ArrayView<float> lse, ArrayView<float> delta, ArrayView<float> dqAccum, ArrayView<float> dkAccum, ArrayView<float> dvAccum,
        ArrayView<T> dk, ArrayView<T> dv, AttentionParams p, SequenceInfo sequences, AttentionModifiers<TScore, TMask> modifiers, int tailUnits, SpecializedValue<int> headDimPadded, SpecializedValue<int> warps, SpecializedValue<bool> causal,
        SpecializedValue<bool> chunked, SpecializedValue<bool> accumulateDq, SpecializedValue<int> sequenceKind,
        SpecializedValue<int> modifierFlags, SpecializedValue<bool> kvDirect, SpecializedValue<bool> dqStaged)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T> where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        bool scoreModified = (modifierFlags.Value & AttentionModifiers<TScore, TMask>.ScoreFlag) != 0;
        bool maskModified = (modifierFlags.Value & AttentionModifiers<TScore, TMask>.MaskFlag) != 0;
        bool dropout = (modifierFlags.Value & AttentionModifiers<TScore, TMask>.DropoutFlag) != 0;
        // plain 16-bit attention at d' = 128 keeps every phi copy (PhiCopies): with the copies shared its backward ran ~1% slower
        // (H100, 2026-12-07, fp16: 0.986–1.006× over eight rows) and CUDA 13's ptxas spilled 8 B in the staged and the causal
        // kernel, none without
        if (!scoreModified & !maskModified & !dropout & TStorage.ElementBytes == 2 & headDimPadded.Value == 128) PhiCopies.KeepAll();
        var tile = new TensorCoreTile(headDimPadded.Value, warps.Value, elementBytes: TStorage.ElementBytes);
        int dPad = tile.HeadDimPadded, br = tile.BackwardBlockRows, bc = tile.BackwardBlockCols, stride = tile.Stride;
        int splits = tile.ColumnSplits, columns = tile.SplitColumns, kSteps = dPad / 16, scoreStride = tile.ScoreTileStride;
        int warp = Group.IdxX / 32, lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        // grid (K blocks · column groups, h_q, b), in TileOrder's order: the blocks of one head run together and share its Q
        // and dO through L2 (ncu, H200: with heads fastest the L2 hit rate of loads was 43%); under a causal mask the first
        // key block is the longest (the grid's last heads run all their longest first)
        var order = TileOrder.Current(causal.Value, tailUnits);
        int k0 = order.Rank / splits * bc, c0 = order.Rank % splits * columns, head = order.Y;
        var seq = sequences.Bounds(order.Z, p, sequenceKind.Value);
        if (k0 >= seq.KeyLength) return; // past this sequence's keys (varlen): the whole group leaves before any barrier
        var mask = seq.Mask(p, causal.Value);
        int kvHead = head / p.QueriesPerKvHead;
        var qLayout = TokenLayout.Queries(p);
        var kvLayout = TokenLayout.KeysValues(p);
        var gradientLayout = TokenLayout.KeyGradientsPerQueryHead(p);

        // this warp's tiles of the three products: Sᵀ and dPᵀ (keys × rows), dV and dK (keys × columns), dQ (rows × columns)
        int scoreRow0 = warp % tile.ScoreRowWarps * tile.ScoreWarpRows, scoreKey0 = warp / tile.ScoreRowWarps * tile.ScoreWarpKeys;
        int scoreKeyTiles = tile.ScoreWarpKeys / 16, scoreRowTiles = tile.ScoreWarpRows / 8;
        int gradientKey0 = warp % tile.GradientKeyWarps * tile.GradientWarpKeys;
        int gradientColumn0 = c0 + warp / tile.GradientKeyWarps * tile.GradientWarpColumns;
        int gradientKeyTiles = tile.GradientWarpKeys / 16, gradientColumnTiles = tile.GradientWarpColumns / 8;
        int dqRow0 = warp % tile.DqRowWarps * tile.DqWarpRows, dqColumn0 = c0 + warp / tile.DqRowWarps * tile.DqWarpColumns;

        // shared: K, V; Pᵀ, dSᵀ; then Stages × (Q, dO, L·log2 e, D)
        var shared = SharedMemory.GetDynamic<T>();
        var kTile = shared.SubView(0, bc * stride);
        var vTile = shared.SubView(bc * stride, bc * stride);
        var pTile = shared.SubView(2 * bc * stride, bc * scoreStride);
        var dsTile = shared.SubView(2 * bc * stride + bc * scoreStride, bc * scoreStride);
        int stagesFirst = 2 * bc * stride + 2 * bc * scoreStride, stageElements = 2 * br * stride + tile.StatisticElements;

        // and after them all, where dQ is staged (TensorCoreTile.StagesDq): the block's dQ rows, fp32
        bool stagedDq = dqStaged.Value;
        var dqStage = default(ArrayView<float>);
        if (stagedDq) dqStage = shared.SubView(tile.BackwardSharedBytes / TStorage.ElementBytes, tile.DqStageBytes / TStorage.ElementBytes).Cast<float>();
        int stagedQ0 = -1; // the block whose dQ sits in the stage, to be added once every warp has written its part

        var sT = LocalMemory.Allocate<float>(4 * scoreKeyTiles * scoreRowTiles);
        var dpT = LocalMemory.Allocate<float>(4 * scoreKeyTiles * scoreRowTiles);
        var dkAcc = LocalMemory.Allocate<float>(4 * gradientKeyTiles * gradientColumnTiles);
        var dvAcc = LocalMemory.Allocate<float>(4 * gradientKeyTiles * gradientColumnTiles);
        for (int e = 0; e < 4 * gradientKeyTiles * gradientColumnTiles; e++) { dkAcc[e] = 0f; dvAcc[e] = 0f; }
        // dropout's decisions for the block, the lane's 8 entries of each group in a byte, where they are drawn at the block's
        // top (TensorCoreTile.BackwardDrawsDropoutFirst; DrawDropout)
        bool drawFirst = dropout && tile.BackwardDrawsDropoutFirst;
        int dropoutGroups = (scoreKeyTiles + 1) / 2 * scoreRowTiles;
        var keptBits = LocalMemory.Allocate<uint>(drawFirst ? (dropoutGroups + 3) / 4 : 1);
        var aScores = LocalMemory.Allocate<int>(2 * TStorage.AWords); // K and V of one m16 key tile
        var bScores = LocalMemory.Allocate<int>(scoreRowTiles * TStorage.BWords); // Q and dO pairs of the warp's rows

        // ---- K_j, V_j staged once; the Q range starts at the first row that sees key k0 ----
        long kvFirst = sequences.KeyRowStart(kvLayout, seq, k0, kvHead, p, sequenceKind.Value);
        int validKeys = XMath.Min(bc, seq.KeyLength - k0);
        TensorCoreTileLoader.Load<T, TStorage>(k, kvFirst, kvLayout.PositionStride, validKeys, p.HeadDim, kTile, stride, bc, dPad, tile.Threads, chunked.Value, plainWhenWhole: false);
        TensorCoreTileLoader.Load<T, TStorage>(v, kvFirst, kvLayout.PositionStride, validKeys, p.HeadDim, vTile, stride, bc, dPad, tile.Threads, chunked.Value, plainWhenWhole: false);
        int firstBlock = mask.FirstQuerySeeing(k0) / br, qBlocks = (mask.QueryEnd(k0, bc, seq.QueryLength) + br - 1) / br;
        long rowBase = seq.StatisticIndex(RowStatisticsLayout.Of(p), head, 0);
        // a block mask skips the query blocks it empties for this key block (no load, no math)
        var walk = BlockMaskWalk.AlongQueries(modifiers, modifierFlags.Value, seq.Index, head, k0, bc, br, qBlocks);
        var window = walk.WindowAt(firstBlock);
        int block = walk.Next(firstBlock, ref window);
        if (block < qBlocks)
        {
            var first = shared.SubView(stagesFirst, stageElements);
            StageQueryBlock<T, TStorage>(q, dOutput, p, qLayout, seq, head, block * br, tile, first, chunked.Value);
            RowStatistics.Load(lse, delta, seq.QueryLength, rowBase, block * br, br, out float firstLse, out float firstDelta);
            RowStatistics.Store(firstLse, firstDelta, br, Statistics(first, br, stride, 0), Statistics(first, br, stride, 1));
        }

        for (int iteration = 0; block < qBlocks; iteration++)
        {
            int q0 = block * br;
            // this block's class and the next block the mask does not empty (BlockMaskWalk: shuffles, before the wait that hides them)
            byte blockClass = walk.ClassOf(block, window);
            int following = walk.Next(block + 1, ref window);
            // dropout's bits for this block, drawn before the wait for Q_i and dO_i: the Philox rounds overlap the copies'
            // latency, and Sᵀ and dPᵀ do not yet hold their registers
            if (drawFirst)
                DrawDropout(keptBits, p, seq, head, q0 + scoreRow0, k0 + scoreKey0, scoreKeyTiles, scoreRowTiles);
            // Q_i, dO_i, L_i, D_i have landed, and every warp is done with the block before (its stage, Pᵀ and dSᵀ): the
            // other stage takes the next block, which streams in during this one: its L and D now, Q_{i+1} and dO_{i+1}
            // after Sᵀ and dPᵀ (issued here they queued with those products' fragment loads: d = 128 backward +1.3-3.9%;
            // dO after dQ, FA2's point, lost 1.8% at d = 96)
            AsyncCopy.WaitAll();
            Group.Barrier();
            if (stagedDq && stagedQ0 >= 0) AddStagedDq(dqStage, tile, dqAccum, p, qLayout, seq, head, stagedQ0, c0);
            bool hasNext = following < qBlocks;
            var next = shared.SubView(stagesFirst + (iteration + 1) % TensorCoreTile.Stages * stageElements, stageElements);
            float nextLse = 0f, nextDelta = 0f;
            if (hasNext) RowStatistics.Load(lse, delta, seq.QueryLength, rowBase, following * br, br, out nextLse, out nextDelta);
            var stage = shared.SubView(stagesFirst + iteration % TensorCoreTile.Stages * stageElements, stageElements);
            var qTile = stage.SubView(0, br * stride);
            var doTile = stage.SubView(br * stride, br * stride);
            var lseTile = Statistics(stage, br, stride, 0);
            var deltaTile = Statistics(stage, br, stride, 1);

            // the causal/window test on blocks that cross an edge; the mask modifier's test on tiles a block mask does not mark full
            bool edgeTest = mask.QueryBlockNeedsMask(q0, br, k0, bc) | (q0 + br > seq.QueryLength) | (k0 + bc > seq.KeyLength);
            bool maskTest = maskModified && AttentionModifiers<TScore, TMask>.TestsMaskOn(modifierFlags.Value, blockClass);
            var warpLse = lseTile.SubView(scoreRow0, tile.ScoreWarpRows);
            var warpDelta = deltaTile.SubView(scoreRow0, tile.ScoreWarpRows);
            for (int e = 0; e < 4 * scoreKeyTiles * scoreRowTiles; e++) { sT[e] = 0f; dpT[e] = 0f; }
            if (!scoreModified && !maskTest && !dropout)
            {
                // ---- Sᵀ = K_j Q_iᵀ; then dPᵀ = V_j dO_iᵀ with Pᵀ = exp2(Sᵀ·scale·log2 e − L·log2 e) (masked: 0) computed
                //      between its products, which do not depend on it: the exponentials fill the tensor pipe's gaps instead
                //      of a phase of their own; then dSᵀ = Pᵀ ∘ (dPᵀ − D). Plain attention, and a block mask's full tiles
                //      (no element test; they took the modifiers' path before: a document mask whose tiles were all full
                //      ran at 0.71× plain, H100, 2026-12-07). A mask modifier's loads (document ids) are merged within one
                //      run of element code, which the products would split ----
                ScoreProduct<T, TStorage>(kTile, qTile, stride, sT, aScores, bScores, 0, scoreKey0, scoreKeyTiles, scoreRow0, scoreRowTiles, 0, kSteps);
                if (edgeTest)
                    DpProductWithProbabilities<T, TStorage, TScore, TMask>(vTile, doTile, stride, dpT, sT, aScores, bScores, warpLse, p, seq, mask, modifiers, head, scoreRow0,
                        q0 + scoreRow0, scoreKey0, k0 + scoreKey0, scoreKeyTiles, scoreRowTiles, kSteps, edge: true);
                else
                    DpProductWithProbabilities<T, TStorage, TScore, TMask>(vTile, doTile, stride, dpT, sT, aScores, bScores, warpLse, p, seq, mask, modifiers, head, scoreRow0,
                        q0 + scoreRow0, scoreKey0, k0 + scoreKey0, scoreKeyTiles, scoreRowTiles, kSteps, edge: false);
                if (hasNext) StageQueryBlock<T, TStorage>(q, dOutput, p, qLayout, seq, head, following * br, tile, next, chunked.Value);
                for (int e = 0; e < 4 * scoreKeyTiles * scoreRowTiles; e++)
                    dpT[e] = sT[e] * (dpT[e] - warpDelta[ScoreColumn(e, scoreRowTiles)]);
            }
            else
            {
                // ---- Sᵀ = K_j Q_iᵀ and dPᵀ = V_j dO_iᵀ together: this warp's keys × rows; each Q/dO fragment serves every key tile ----
                for (int kk = 0; kk < kSteps; kk++)
                    for (int m = 0; m < scoreKeyTiles; m++)
                    {
                        TStorage.LoadA(kTile, stride, scoreKey0 + 16 * m, 16 * kk, aScores, 0);
                        TStorage.LoadA(vTile, stride, scoreKey0 + 16 * m, 16 * kk, aScores, 1);
                        for (int pair = 0; pair < scoreRowTiles / 2; pair++)
                        {
                            // loaded for the first key tile, kept for the others (with one key tile each dies at its mma)
                            if (m == 0)
                            {
                                TStorage.LoadB(qTile, stride, scoreRow0 + 16 * pair, 16 * kk, bScores, 2 * pair);
                                TStorage.LoadB(doTile, stride, scoreRow0 + 16 * pair, 16 * kk, bScores, 2 * pair + 1);
                            }
                            TStorage.MultiplyAddTwoTiles(sT, m * scoreRowTiles + 2 * pair, aScores, 0, bScores, 2 * pair);
                            TStorage.MultiplyAddTwoTiles(dpT, m * scoreRowTiles + 2 * pair, aScores, 1, bScores, 2 * pair + 1);
                        }
                    }

                if (hasNext) StageQueryBlock<T, TStorage>(q, dOutput, p, qLayout, seq, head, following * br, tile, next, chunked.Value);

                // ---- Pᵀ (masked: 0) and dSᵀ = Pᵀ ∘ (dPᵀ − D) in dpT; through a score modifier f: P from f(s), and dS·f'(s) for
                //      the scores' gradient; dropout's mask regenerated. Two instances, so that a block inside the causal/window
                //      edges and the sequence's bounds has no visibility or bounds test at all ----
                if (edgeTest)
                    ScoreGradients(sT, dpT, warpLse, warpDelta, keptBits, p, seq, mask, modifiers, head, q0 + scoreRow0, k0 + scoreKey0, scoreKeyTiles,
                        scoreRowTiles, scoreModified, maskTest, dropout, drawFirst, edge: true);
                else
                    ScoreGradients(sT, dpT, warpLse, warpDelta, keptBits, p, seq, mask, modifiers, head, q0 + scoreRow0, k0 + scoreKey0, scoreKeyTiles,
                        scoreRowTiles, scoreModified, maskTest, dropout, drawFirst, edge: false);
            }

            // ---- Pᵀ and dSᵀ to shared memory (keys × rows, in the storage): dQ, dV and dK read them in other warp grids ----
            if (tile.BackwardStoresScoresByMatrix)
                for (int m = 0; m < scoreKeyTiles; m++)
                    for (int pair = 0; pair < scoreRowTiles / 2; pair++)
                    {
                        TStorage.StoreTwoTiles(sT, m * scoreRowTiles + 2 * pair, pTile, scoreStride, scoreKey0 + 16 * m, scoreRow0 + 16 * pair);
                        TStorage.StoreTwoTiles(dpT, m * scoreRowTiles + 2 * pair, dsTile, scoreStride, scoreKey0 + 16 * m, scoreRow0 + 16 * pair);
                    }
            else
                for (int m = 0; m < scoreKeyTiles; m++)
                    for (int j = 0; j < scoreRowTiles; j++)
                        for (int r = 0; r < 2; r++)
                        {
                            int at = (scoreKey0 + 16 * m + g + 8 * r) * scoreStride + scoreRow0 + 8 * j + 2 * t, e = 4 * (m * scoreRowTiles + j) + 2 * r;
                            TStorage.StorePair(pTile, at, sT[e], sT[e + 1]);
                            TStorage.StorePair(dsTile, at, dpT[e], dpT[e + 1]);
                        }
            // the dQ stage is written again after this barrier: the previous block's reductions must have read it
            if (stagedDq) BulkCopy.WaitRead(0);
            Group.Barrier();

            // block i + 1's L and D, loaded before, go to its stage
            if (hasNext) RowStatistics.Store(nextLse, nextDelta, br, Statistics(next, br, stride, 0), Statistics(next, br, stride, 1));

            // ---- dV_j += Pᵀ dO_i, dK_j += dSᵀ Q_i (dO and Q as [k][n], transposed loads) and dQ_i += dS K_j · scale, added
            //      atomically. Up to d' = 96 in FA2's order, dV, dQ, dK: the atomics read their registers during dK's products.
            //      Above, dQ last, after dV and dK in one pass: the atomics read their registers while the warps wait at the
            //      next block's barrier (see TensorCoreTile.BackwardDqBetweenGradients) ----
            bool dqBetween = tile.BackwardDqBetweenGradients;
            if (dqBetween)
                GradientProduct<T, TStorage>(pTile, scoreStride, doTile, stride, dvAcc, gradientKey0, gradientKeyTiles, gradientColumn0, gradientColumnTiles, br);
            else
                GradientProducts<T, TStorage>(pTile, dsTile, scoreStride, doTile, qTile, stride, dvAcc, dkAcc, gradientKey0, gradientKeyTiles,
                    gradientColumn0, gradientColumnTiles, br);
            if (accumulateDq.Value)
                AccumulateDq<T, TStorage>(dsTile, scoreStride, kTile, stride, dqAccum, p, qLayout, seq, head, q0, dqRow0, tile.DqWarpRows / 16,
                    dqColumn0, tile.DqWarpColumns / 8, bc, chunked.Value, stagedDq, dqStage, tile.DqStageStride, c0);
            if (stagedDq) stagedQ0 = q0;
            if (dqBetween)
                GradientProduct<T, TStorage>(dsTile, scoreStride, qTile, stride, dkAcc, gradientKey0, gradientKeyTiles, gradientColumn0, gradientColumnTiles, br);

            block = following;
        }
        if (stagedDq)
        {
            if (stagedQ0 >= 0)
            {
                Group.Barrier();
                AddStagedDq(dqStage, tile, dqAccum, p, qLayout, seq, head, stagedQ0, c0);
            }
            BulkCopy.Wait(0); // the stage's shared memory ends with the group
        }

        // ---- epilogue: dK_j · scale and dV_j into dk and dv (without GQA this group owns them whole: no fp32 round trip
        //      through the convert kernel), else into the per-query-head fp32 buffers ----
        for (int m = 0; m < gradientKeyTiles; m++)
            StoreKeyTile<T, TStorage>(dkAcc.SubView(4 * m * gradientColumnTiles, 4 * gradientColumnTiles),
                dvAcc.SubView(4 * m * gradientColumnTiles, 4 * gradientColumnTiles), dk, dv, dkAccum, dvAccum, p, seq, gradientLayout, head,
                k0 + gradientKey0 + 16 * m, gradientColumn0, gradientColumnTiles, kvDirect.Value, chunked.Value);
    }

    /// <summary>
    /// dV_j += Pᵀ dO_i or dK_j += dSᵀ Q_i for one warp's tile: <paramref name="keyTiles"/> m16 tiles of keys from
    /// <paramref name="key0"/> (A: Pᵀ or dSᵀ, keys × rows) × <paramref name="columnTiles"/> n8 tiles from <paramref name="column0"/>
    /// (B: dO or Q as [row][column], transposed loads); each B fragment serves every key tile.
    /// </summary>
    private static void GradientProduct<T, TStorage>(ArrayView<T> scoreTile, int scoreStride, ArrayView<T> rowTile, int stride, ArrayView<float> accumulator,
        int key0, int keyTiles, int column0, int columnTiles, int br)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T>
    {
        var a = LocalMemory.Allocate<int>(keyTiles * TStorage.AWords);
        var b = LocalMemory.Allocate<int>(TStorage.BWords);
        for (int kk = 0; kk < br / 16; kk++)
        {
            for (int m = 0; m < keyTiles; m++)
                TStorage.LoadAInTransposedOrder(scoreTile, scoreStride, key0 + 16 * m, 16 * kk, a, m);
            for (int pair = 0; pair < columnTiles / 2; pair++)
            {
                TStorage.LoadBTransposed(rowTile, stride, 16 * kk, column0 + 16 * pair, b, 0);
                for (int m = 0; m < keyTiles; m++)
                    TStorage.MultiplyAddTwoTiles(accumulator, m * columnTiles + 2 * pair, a, m, b, 0);
            }
        }
    }

    /// <summary>Sᵀ = K_j Q_iᵀ (<paramref name="slot"/> 0: A from K, B from Q) or dPᵀ = V_j dO_iᵀ (1: V, dO) for one warp's tile,
    /// k steps <paramref name="kFirst"/>… (<paramref name="kCount"/> of them): <paramref name="keyTiles"/> m16 tiles of keys from
    /// <paramref name="key0"/> × <paramref name="rowTiles"/> n8 tiles of rows from <paramref name="row0"/>; each B fragment serves
    /// every key tile. The slot keeps the two products' fragments in their own registers.</summary>
    private static void ScoreProduct<T, TStorage>(ArrayView<T> keyTile, ArrayView<T> rowTile, int stride, ArrayView<float> accumulator, ArrayView<int> a,
        ArrayView<int> b, int slot, int key0, int keyTiles, int row0, int rowTiles, int kFirst, int kCount)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T>
    {
        for (int step = 0; step < kCount; step++) // a constant trip count for the unroller, whatever kFirst is
            for (int m = 0; m < keyTiles; m++)
            {
                int kk = kFirst + step;
                TStorage.LoadA(keyTile, stride, key0 + 16 * m, 16 * kk, a, slot);
                for (int pair = 0; pair < rowTiles / 2; pair++)
                {
                    if (m == 0) TStorage.LoadB(rowTile, stride, row0 + 16 * pair, 16 * kk, b, 2 * pair + slot);
                    TStorage.MultiplyAddTwoTiles(accumulator, m * rowTiles + 2 * pair, a, slot, b, 2 * pair + slot);
                }
            }
    }

    /// <summary>
    /// dPᵀ = V_j dO_iᵀ for the warp's tile (as <see cref="ScoreProduct{T, TStorage}"/>), and Pᵀ from <paramref name="sT"/> in
    /// place, a share of its entries after each k step's products (<see cref="ScoreProbability{TScore, TMask}"/>; plain
    /// attention: the modifiers' and dropout's P and dS come from the fused <see cref="ScoreGradients{TScore, TMask}"/>). The
    /// exponentials do not depend on dPᵀ, so ptxas issues them between its mma (H100: d = 64 +2.9 to +3.7%, d = 96 +1.7 to
    /// +5.1%, d = 128 +0.1 to +0.8%; the same code with the entries after all the products: −0.1%).
    /// </summary>
    private static void DpProductWithProbabilities<T, TStorage, TScore, TMask>(ArrayView<T> vTile, ArrayView<T> doTile, int stride, ArrayView<float> dpT,
        ArrayView<float> sT, ArrayView<int> a, ArrayView<int> b, ArrayView<float> lseTile, AttentionParams p, SequenceBounds seq, AttentionMask mask,
        AttentionModifiers<TScore, TMask> modifiers, int head, int warpRow0, int q0, int warpKey0, int key0, int keyTiles, int rowTiles, int kSteps, bool edge)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T> where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        int entries = 4 * keyTiles * rowTiles, share = (entries + kSteps - 1) / kSteps;
        for (int kk = 0; kk < kSteps; kk++)
        {
            ScoreProduct<T, TStorage>(vTile, doTile, stride, dpT, a, b, 1, warpKey0, keyTiles, warpRow0, rowTiles, kk, 1);
            // this step's share of the entries (a constant range once unrolled; the loop over i keeps its trip count constant
            // for the unroller, which a range from kk · share would not)
            for (int i = 0; i < share; i++)
                if (kk * share + i < entries)
                    ProbabilityEntry(sT, kk * share + i, rowTiles, lseTile, p, seq, mask, modifiers, head, q0, key0, edge);
        }
    }

    /// <summary>Entry <paramref name="e"/> of the lane's Sᵀ accumulators becomes its Pᵀ (<see cref="ScoreProbability{TScore, TMask}"/>, plain
    /// attention: no score or mask modifier); the warp's tile starts at row <paramref name="q0"/> and key <paramref name="key0"/> of the sequence.</summary>
    private static void ProbabilityEntry<TScore, TMask>(ArrayView<float> sT, int e, int rowTiles, ArrayView<float> lseTile, AttentionParams p,
        SequenceBounds seq, AttentionMask mask, AttentionModifiers<TScore, TMask> modifiers, int head, int q0, int key0, bool edge)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        int column = ScoreColumn(e, rowTiles), key = key0 + 16 * (e / (4 * rowTiles)) + Warp.LaneIdx / 4 + 8 * (e / 2 % 2), row = q0 + column;
        bool inside = !edge | ((row < seq.QueryLength) & (key < seq.KeyLength));
        sT[e] = ScoreProbability(sT[e], row, key, inside, lseTile[column], p, seq, mask, modifiers, head, scoreModified: false, maskTest: false, edge, out _);
    }

    /// <summary>
    /// dV_j += Pᵀ dO_i and dK_j += dSᵀ Q_i in one pass over the block's rows, as <see cref="GradientProduct{T, TStorage}"/> twice:
    /// each k16 step loads the Pᵀ and dSᵀ fragments of every key tile, then dO's and Q's column pairs.
    /// </summary>
    private static void GradientProducts<T, TStorage>(ArrayView<T> pTile, ArrayView<T> dsTile, int scoreStride, ArrayView<T> doTile,
        ArrayView<T> qTile, int stride, ArrayView<float> dvAcc, ArrayView<float> dkAcc, int key0, int keyTiles, int column0, int columnTiles, int br)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T>
    {
        var a = LocalMemory.Allocate<int>(2 * keyTiles * TStorage.AWords); // Pᵀ and dSᵀ per key tile
        var b = LocalMemory.Allocate<int>(2 * TStorage.BWords); // dO and Q
        for (int kk = 0; kk < br / 16; kk++)
        {
            for (int m = 0; m < keyTiles; m++)
            {
                TStorage.LoadAInTransposedOrder(pTile, scoreStride, key0 + 16 * m, 16 * kk, a, 2 * m);
                TStorage.LoadAInTransposedOrder(dsTile, scoreStride, key0 + 16 * m, 16 * kk, a, 2 * m + 1);
            }
            for (int pair = 0; pair < columnTiles / 2; pair++)
            {
                TStorage.LoadBTransposed(doTile, stride, 16 * kk, column0 + 16 * pair, b, 0);
                TStorage.LoadBTransposed(qTile, stride, 16 * kk, column0 + 16 * pair, b, 1);
                for (int m = 0; m < keyTiles; m++)
                {
                    TStorage.MultiplyAddTwoTiles(dvAcc, m * columnTiles + 2 * pair, a, 2 * m, b, 0);
                    TStorage.MultiplyAddTwoTiles(dkAcc, m * columnTiles + 2 * pair, a, 2 * m + 1, b, 1);
                }
            }
        }
    }

    /// <summary>
    /// One m16 key tile of dK·scale and dV (keys <paramref name="key0"/>… × <paramref name="columnTiles"/> n8 tiles from
    /// <paramref name="column0"/>) into dk and dv in their storage (<paramref name="direct"/>: h_q = h_kv, k's own layout),
    /// else into the per-query-head fp32 buffers.
    /// </summary>
    private static void StoreKeyTile<T, TStorage>(ArrayView<float> dkTiles, ArrayView<float> dvTiles, ArrayView<T> dk, ArrayView<T> dv,
        ArrayView<float> dkAccum, ArrayView<float> dvAccum, AttentionParams p, SequenceBounds seq, TokenLayout gradientLayout, int head,
        int key0, int column0, int columnTiles, bool direct, bool chunked)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T>
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        for (int r = 0; r < 2; r++)
        {
            int key = key0 + g + 8 * r;
            if (key >= seq.KeyLength) continue;
            long first = gradientLayout.RowStart(seq.KeyBatch, seq.KeyOffset + key, head);
            for (int j = 0; j < columnTiles; j++)
            {
                int column = column0 + 8 * j + 2 * t;
                float dk0 = dkTiles[4 * j + 2 * r] * p.Scale, dk1 = dkTiles[4 * j + 2 * r + 1] * p.Scale;
                float dv0 = dvTiles[4 * j + 2 * r], dv1 = dvTiles[4 * j + 2 * r + 1];
                if (direct && chunked)
                {
                    // d a multiple of 8 and aligned operands: the pair is inside the head or past it, and aligned
                    if (column >= p.HeadDim) continue;
                    TStorage.StorePair(dk, first + column, dk0, dk1);
                    TStorage.StorePair(dv, first + column, dv0, dv1);
                }
                else if (direct)
                {
                    if (column < p.HeadDim) { dk[first + column] = TStorage.Store(dk0); dv[first + column] = TStorage.Store(dv0); }
                    if (column + 1 < p.HeadDim) { dk[first + column + 1] = TStorage.Store(dk1); dv[first + column + 1] = TStorage.Store(dv1); }
                }
                else
                {
                    if (column < p.HeadDim) { dkAccum[first + column] = dk0; dvAccum[first + column] = dv0; }
                    if (column + 1 < p.HeadDim) { dkAccum[first + column + 1] = dk1; dvAccum[first + column + 1] = dv1; }
                }
            }
        }
    }

    /// <summary>
    /// Dropout's decisions for the warp's Sᵀ tile (keys from <paramref name="key0"/> × rows from <paramref name="q0"/>) into
    /// <paramref name="keptBits"/>, a byte a group (<see cref="Dropout.KeptBitsWithKeyBit0"/>). Grouped by (key tile pair kp,
    /// query tile pair, query bit 0 c): the lane's entries there (keys g, g + 8 of tiles 2·kp, 2·kp + 1 × queries 2t + c of
    /// tiles 2·pair, 2·pair + 1) share one Dropout group, so one Philox call serves 8 of them, all with key bit 0 = g's;
    /// key bit 4 is the tile's parity when a warp has whole 32-key spans (key0 a multiple of 32), else key0's own.
    /// </summary>
    private static void DrawDropout(ArrayView<uint> keptBits, AttentionParams p, SequenceBounds seq, int head, int q0, int key0, int keyTiles,
        int queryTiles)
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4, groups = (keyTiles + 1) / 2 * queryTiles;
        for (int word = 0; word < (groups + 3) / 4; word++)
        {
            uint bits = 0;
            for (int inWord = 0; inWord < 4; inWord++)
            {
                int groupAt = 4 * word + inWord, c = groupAt % 2, pair = groupAt / 2 % (queryTiles / 2), kp = groupAt / queryTiles;
                if (groupAt >= groups) continue;
                bits |= Dropout.KeptBitsWithKeyBit0(LaneDropoutGroup(p, seq, head, q0, key0, kp, pair, c), p.DropoutThreshold, g & 1) << (8 * inWord);
            }
            keptBits[word] = bits;
        }
    }

    /// <summary>The Philox words of the lane's dropout group (key tile pair <paramref name="kp"/>, query tile pair
    /// <paramref name="pair"/>, query bit 0 <paramref name="c"/>) of the warp's Sᵀ tile from keys <paramref name="key0"/> × rows
    /// <paramref name="q0"/>: its first query 16·pair + 2t + c and key 32·kp + g (<see cref="DrawDropout"/>).</summary>
    private static PhiloxBlock LaneDropoutGroup(AttentionParams p, SequenceBounds seq, int head, int q0, int key0, int kp, int pair, int c)
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        return p.DropoutGroup(seq.Index, head, q0 + 16 * pair + 2 * t + c, key0 + 32 * kp + g);
    }

    /// <summary>
    /// Pᵀ = exp2(Sᵀ·scale·log2 e − L·log2 e) (masked: 0) and dSᵀ = Pᵀ ∘ (dPᵀ − D), in place: <paramref name="sT"/> becomes the
    /// kept Pᵀ, <paramref name="dpT"/> dSᵀ, for the warp's <paramref name="keyTiles"/> m16 tiles of keys from <paramref name="key0"/>
    /// × its <paramref name="queryTiles"/> n8 tiles of rows from <paramref name="q0"/> (<paramref name="lseTile"/> and
    /// <paramref name="deltaTile"/> start there too). Through a score modifier f: P from f(s), and dS·f'(s) for the scores' gradient. The
    /// causal/window test, the sequence's bounds and the modifiers' clamped positions only where <paramref name="edge"/>:
    /// a constant at each call, so the block inside the edges and bounds is one straight run of code without them.
    /// </summary>
    private static void ScoreGradients<TScore, TMask>(ArrayView<float> sT, ArrayView<float> dpT, ArrayView<float> lseTile, ArrayView<float> deltaTile,
        ArrayView<uint> keptBits, AttentionParams p, SequenceBounds seq, AttentionMask mask, AttentionModifiers<TScore, TMask> modifiers, int head, int q0, int key0,
        int keyTiles, int queryTiles, bool scoreModified, bool maskTest, bool dropout, bool drawnFirst, bool edge)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        // walked by dropout's groups (DrawDropout's; drawn here unless drawnFirst): (key tile pair,
        // query tile pair, query bit 0)
        for (int kp = 0; kp < (keyTiles + 1) / 2; kp++)
            for (int pair = 0; pair < queryTiles / 2; pair++)
                for (int c = 0; c < 2; c++)
                {
                    int groupAt = (kp * (queryTiles / 2) + pair) * 2 + c;
                    uint bits = drawnFirst ? keptBits[groupAt / 4] >> (8 * (groupAt % 4)) : 0u;
                    var group = dropout && !drawnFirst ? LaneDropoutGroup(p, seq, head, q0, key0, kp, pair, c) : default;
                    for (int tileInPair = 0; tileInPair < 2; tileInPair++)
                        for (int half = 0; half < 2; half++)
                            for (int r = 0; r < 2; r++)
                            {
                                int m = 2 * kp + tileInPair;
                                if (m >= keyTiles) continue;
                                int inTile = 4 * (2 * pair + half) + 2 * r + c, e = 4 * m * queryTiles + inTile;
                                int key = key0 + 16 * m + g + 8 * r, column = 8 * (inTile / 4) + 2 * t + c, row = q0 + column;
                                bool inside = !edge | ((row < seq.QueryLength) & (key < seq.KeyLength));
                                float pij = ScoreProbability(sT[e], row, key, inside, lseTile[column], p, seq, mask, modifiers, head, scoreModified, maskTest, edge,
                                    out float derivative);
                                float kept = pij, dpij = dpT[e];
                                if (dropout)
                                {
                                    // the forward's mask, regenerated: dV takes the kept P, dS the kept dP (both scaled by 1/(1 − p));
                                    // the entry's bits: query bit 3 is half, key bit 0 g's, bit 3 r, bit 4 the tile's parity
                                    int keyBit4 = keyTiles > 1 ? m & 1 : (key0 >> 4) & 1;
                                    int index = Dropout.Index(half, g & 1, r, keyBit4);
                                    bool keep = drawnFirst ? inside && Dropout.KeptIn(bits, index >> 1) : ModifiedScores.Kept(group, index, inside, p);
                                    kept = keep ? pij * p.DropoutScale : 0f;
                                    dpij = keep ? dpij * p.DropoutScale : 0f;
                                }
                                sT[e] = kept;
                                dpT[e] = pij * (dpij - deltaTile[column]) * derivative;
                            }
                }
    }

    /// <summary>
    /// Pᵀ of one entry: the score <paramref name="s"/> of (<paramref name="row"/>, <paramref name="key"/>) in
    /// ModifiedScores.Score's units, as the forward's softmax took it, masked to 0 where not visible (the causal/window test only
    /// where <paramref name="edge"/>), through the score modifier if any (its derivative out, else 1), against the row's
    /// <paramref name="lse"/> (L·log2 e).
    /// </summary>
    private static float ScoreProbability<TScore, TMask>(float s, int row, int key, bool inside, float lse, AttentionParams p, SequenceBounds seq,
        AttentionMask mask, AttentionModifiers<TScore, TMask> modifiers, int head, bool scoreModified, bool maskTest, bool edge, out float derivative)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        float score = s;
        derivative = 1f;
        if (!scoreModified && !maskTest)
        {
            if (edge && !mask.Visible(row, key)) score = float.NegativeInfinity;
        }
        else
        {
            var at = ModifiedScores.Position(seq.Index, head, row, key, mask.Offset, seq.QueryLength, seq.KeyLength, inBounds: !edge);
            score = ModifiedScores.Score(s, at, inside, edge & !mask.Visible(row, key), p, modifiers, scoreModified, maskTest);
            derivative = ModifiedScores.Derivative(s, at, inside, p, modifiers, scoreModified);
        }
        return ModifiedScores.Probability(score, ModifiedScores.SoftmaxScale(p, modifiers, scoreModified), lse);
    }

    /// <summary>The column (query row within the warp's rows) of entry <paramref name="e"/> of a warp's Sᵀ/dPᵀ accumulators, as
    /// this lane holds them: tile m = e / (4 · rowTiles) of keys, n8 tile e / 4 % rowTiles of rows, columns 2t and 2t + 1.</summary>
    private static int ScoreColumn(int e, int rowTiles) => 8 * (e / 4 % rowTiles) + 2 * (Warp.LaneIdx % 4) + e % 2;

    /// <summary>Row statistic <paramref name="which"/> (0: L·log2 e, 1: D) of a stage: Br floats after its Q and dO tiles.</summary>
    private static ArrayView<float> Statistics<T>(ArrayView<T> stage, int br, int stride, int which) where T : unmanaged
        => stage.SubView(2 * br * stride, stage.Length - 2 * br * stride).Cast<float>().SubView(which * br, br);

    /// <summary>
    /// dQ_i += dS K_j · scale for one warp's tile: rows <paramref name="row0"/>… of the block (<paramref name="rowTiles"/> m16
    /// tiles) × <paramref name="columnTiles"/> n8 tiles from <paramref name="column0"/>, fp32 atomics.
    /// </summary>
    private static void AccumulateDq<T, TStorage>(ArrayView<T> dsTile, int dsStride, ArrayView<T> kTile, int stride, ArrayView<float> dqAccum,
        AttentionParams p, TokenLayout qLayout, SequenceBounds seq, int head, int q0, int row0, int rowTiles, int column0, int columnTiles,
        int bc, bool chunked, bool staged, ArrayView<float> stage, int stageStride, int c0)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T>
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        var dq = LocalMemory.Allocate<float>(4 * rowTiles * columnTiles);
        for (int e = 0; e < 4 * rowTiles * columnTiles; e++) dq[e] = 0f;
        var a = LocalMemory.Allocate<int>(rowTiles * TStorage.AWords);
        var b = LocalMemory.Allocate<int>(TStorage.BWords);
        for (int kk = 0; kk < bc / 16; kk++)
        {
            // A = dS (rows × keys) from dSᵀ (keys × rows); B = K_j as [key][column]
            for (int m = 0; m < rowTiles; m++)
                TStorage.LoadATransposed(dsTile, dsStride, 16 * kk, row0 + 16 * m, a, m);
            for (int pair = 0; pair < columnTiles / 2; pair++)
            {
                TStorage.LoadBTransposed(kTile, stride, 16 * kk, column0 + 16 * pair, b, 0);
                for (int m = 0; m < rowTiles; m++)
                    TStorage.MultiplyAddTwoTiles(dq, m * columnTiles + 2 * pair, a, m, b, 0);
            }
        }
        if (staged)
        {
            // into the block's dQ stage (rows × the group's columns, padded rows are zero-filled products): AddStagedDq adds
            // it to the accumulator after the next barrier, by one bulk reduction per row
            for (int m = 0; m < rowTiles; m++)
                for (int r = 0; r < 2; r++)
                    for (int j = 0; j < columnTiles; j++)
                    {
                        int e = 4 * (m * columnTiles + j) + 2 * r;
                        int at = (row0 + 16 * m + g + 8 * r) * stageStride + column0 - c0 + 8 * j + 2 * t;
                        // a sub-view at the element, not [at / 2]: the stores then share one base address (HalfFragments.StorePair)
                        stage.SubView(at, 2).Cast<Float2>()[0] = new Float2(dq[e] * p.Scale, dq[e + 1] * p.Scale);
                    }
            BulkCopy.FenceSharedForAsync();
            return;
        }
        // the usual case, every tile inside the head dim, adds without a test per tile (a branch around each atomic pair)
        bool allColumns = chunked && column0 + 8 * columnTiles <= p.HeadDim;
        if (allColumns && q0 + row0 + 16 * rowTiles <= seq.QueryLength)
        {
            // every row inside too: all the rows' addresses first, then the atomics back to back. Computed between them,
            // each row's address took registers the previous row's atomics had not read yet, and the warp waited for the
            // LSU queue to reach them (ncu, d = 128: 26k of 560k stall samples)
            var rowFirst = LocalMemory.Allocate<long>(2 * rowTiles);
            long warpFirst = seq.QueryRowStart(qLayout, q0 + row0 + g, head) + column0 + 2 * t;
            for (int i = 0; i < 2 * rowTiles; i++) rowFirst[i] = warpFirst + 8 * i * qLayout.PositionStride;
            for (int m = 0; m < rowTiles; m++)
                for (int r = 0; r < 2; r++)
                    for (int j = 0; j < columnTiles; j++)
                    {
                        int e = 4 * (m * columnTiles + j) + 2 * r;
                        Atomic.AddTwo(ref dqAccum[rowFirst[2 * m + r] + 8 * j], dq[e] * p.Scale, dq[e + 1] * p.Scale);
                    }
            return;
        }
        for (int m = 0; m < rowTiles; m++)
            for (int r = 0; r < 2; r++)
            {
                int row = q0 + row0 + 16 * m + g + 8 * r, e0 = 4 * m * columnTiles + 2 * r;
                if (row >= seq.QueryLength) continue;
                long rowFirst = seq.QueryRowStart(qLayout, row, head);
                if (allColumns)
                {
                    for (int j = 0; j < columnTiles; j++)
                        Atomic.AddTwo(ref dqAccum[rowFirst + column0 + 8 * j + 2 * t], dq[e0 + 4 * j] * p.Scale, dq[e0 + 4 * j + 1] * p.Scale);
                    continue;
                }
                for (int j = 0; j < columnTiles; j++)
                {
                    int column = column0 + 8 * j + 2 * t;
                    float x = dq[e0 + 4 * j] * p.Scale, y = dq[e0 + 4 * j + 1] * p.Scale;
                    if (chunked)
                    {
                        // d a multiple of 8: an n8 tile is all inside the head or all padding, and pairs are 8-byte aligned
                        if (column0 + 8 * j < p.HeadDim) Atomic.AddTwo(ref dqAccum[rowFirst + column], x, y);
                    }
                    else
                    {
                        if (column < p.HeadDim) Atomic.Add(ref dqAccum[rowFirst + column], x);
                        if (column + 1 < p.HeadDim) Atomic.Add(ref dqAccum[rowFirst + column + 1], y);
                    }
                }
            }
    }

    /// <summary>
    /// Adds the staged dQ of the block at <paramref name="q0"/> to the fp32 accumulator: each row existing in the sequence by
    /// one bulk reduction (the group's columns inside d, 16-byte runs as chunked head dims give), issued by Br / warps lanes of
    /// every warp so that no warp issues them all. Called after a barrier that follows every warp's writes and fences.
    /// </summary>
    private static void AddStagedDq(ArrayView<float> stage, TensorCoreTile tile, ArrayView<float> dqAccum, AttentionParams p, TokenLayout qLayout,
        SequenceBounds seq, int head, int q0, int c0)
    {
        int rowsPerWarp = tile.BackwardBlockRows / tile.Warps, lane = Warp.LaneIdx, row = Group.IdxX / 32 * rowsPerWarp + lane;
        int bytes = XMath.Min(tile.SplitColumns, p.HeadDim - c0) * sizeof(float);
        if (lane < rowsPerWarp && q0 + row < seq.QueryLength)
            BulkCopy.ReduceAdd(ref dqAccum[seq.QueryRowStart(qLayout, q0 + row, head) + c0], ref stage[row * tile.DqStageStride], bytes);
        BulkCopy.Commit();
    }

    /// <summary>Starts staging Q_i and dO_i (rows q0 …) into a stage's first two tiles.</summary>
    private static void StageQueryBlock<T, TStorage>(ArrayView<T> q, ArrayView<T> dOutput, AttentionParams p, TokenLayout layout,
        SequenceBounds seq, int head, int q0, TensorCoreTile tile, ArrayView<T> stage, bool chunked)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T>
    {
        int rows = tile.BackwardBlockRows, validRows = XMath.Min(rows, seq.QueryLength - q0), elements = rows * tile.Stride;
        long first = seq.QueryRowStart(layout, q0, head);
        TensorCoreTileLoader.Load<T, TStorage>(q, first, layout.PositionStride, validRows, p.HeadDim, stage.SubView(0, elements), tile.Stride, rows, tile.HeadDimPadded, tile.Threads, chunked,
            plainWhenWhole: false);
        TensorCoreTileLoader.Load<T, TStorage>(dOutput, first, layout.PositionStride, validRows, p.HeadDim, stage.SubView(elements, elements), tile.Stride, rows, tile.HeadDimPadded, tile.Threads, chunked,
            plainWhenWhole: false);
    }
}
