using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// FlashAttention-2 backward (Dao 2023, Algorithm 2), register-tiled: the fast path for head dims that are
/// multiples of 4 up to 128 (<see cref="BackwardRegisterTile"/>). Same algorithm, notation and outputs as
/// <see cref="FlashBackwardKernel"/> (per-query-head fp32 dK/dV, dQ by fp32 atomics unless deterministic); the
/// five products are register-blocked over 16-byte shared loads (<see cref="RegisterTileMath"/>) and fp32 tiles
/// are staged with cp.async, the next Q/dO tile streaming in while dQ is formed.
/// Grid (h_q, b, ⌈s_k/64⌉), <see cref="BackwardRegisterTile.Threads"/> threads,
/// <see cref="BackwardRegisterTile.SharedBytes"/> of dynamic shared memory. Takes no sliding-window call (its masking knows
/// only the causal diagonal): the launcher sends those to <see cref="FlashBackwardKernel"/>.
/// </summary>
internal static class FlashBackwardTiledKernel
{
    private const int Br = BackwardRegisterTile.BlockRows, Bc = BackwardRegisterTile.BlockCols;
    private const int Rows = BackwardRegisterTile.RowsPerThread, Keys = BackwardRegisterTile.KeysPerThread;
    private const int RowThreads = BackwardRegisterTile.RowThreads, ColumnThreads = BackwardRegisterTile.ColumnThreads;
    private const int TStride = BackwardRegisterTile.TransposedStride;

    /// <summary>
    /// The kernel. lse (b, h_q, s_q) natural log; delta (b, h_q, s_q); dqAccum (b, s_q, h_q, d) fp32, zeroed;
    /// dkAccum, dvAccum (b, s_k, h_q, d) fp32 (in q's and k's dimension order: <see cref="TokenLayout"/>). <paramref name="headDimPadded"/> is <see cref="BackwardRegisterTile.PaddedHeadDim"/>(d).
    /// </summary>
    [LaunchBounds(BackwardRegisterTile.Threads, 1)]
    public static void Backward<T, TStorage>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> dOutput,
        ArrayView<float> lse, ArrayView<float> delta, ArrayView<float> dqAccum, ArrayView<float> dkAccum, ArrayView<float> dvAccum,
        AttentionParams p, SpecializedValue<int> headDimPadded, SpecializedValue<bool> causal, SpecializedValue<bool> accumulateDq)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int dPad = headDimPadded.Value, outChunks = dPad / (4 * ColumnThreads);
        var mask = AttentionMask.Of(p, causal.Value);
        bool withDq = accumulateDq.Value;
        int tx = Group.IdxX % ColumnThreads, ty = Group.IdxX / ColumnThreads; // 16 consecutive lanes per row group
        int head = Grid.IdxX, batch = Grid.IdxY, k0 = Grid.IdxZ * Bc;
        int kvHead = head / p.QueriesPerKvHead;

        var tiles = BackwardSharedTiles.CarveTransposed(SharedMemory.GetDynamic<float>(), dPad);
        ArrayView<float> kTile = tiles.K, vTile = tiles.V, qTile = tiles.Q, doTile = tiles.DOut, pT = tiles.P, dsT = tiles.DS;
        ArrayView<float> lseTile = tiles.Lse, deltaTile = tiles.Delta;

        var dkAcc = LocalMemory.Allocate<float>(Rows * 4 * outChunks);
        var dvAcc = LocalMemory.Allocate<float>(Rows * 4 * outChunks);
        TileMath.Fill(dkAcc, Rows * 4 * outChunks, 0f);
        TileMath.Fill(dvAcc, Rows * 4 * outChunks, 0f);

        // ---- K_j, V_j: staged once ----
        var qLayout = TokenLayout.Queries(p);
        var kvLayout = TokenLayout.KeysValues(p);
        long kvRowStride = kvLayout.PositionStride, qRowStride = qLayout.PositionStride;
        long kvFirst = kvLayout.RowStart(batch, k0, kvHead);
        int validKeys = XMath.Min(Bc, p.SeqLenK - k0);
        TileLoader.StageChunks<T, TStorage>(k, kvFirst, kvRowStride, validKeys, p.HeadDim, kTile, dPad + 4, Bc, dPad, BackwardRegisterTile.Threads);
        TileLoader.StageChunks<T, TStorage>(v, kvFirst, kvRowStride, validKeys, p.HeadDim, vTile, dPad + 4, Bc, dPad, BackwardRegisterTile.Threads);

        // ---- Q range as in FlashBackwardKernel: causal starts at the first row that sees key k0 ----
        int firstBlock = mask.FirstQuerySeeing(k0) / Br;
        int qBlocks = (p.SeqLenQ + Br - 1) / Br;
        int unmaskedFrom = mask.FirstUnmaskedQuery(k0, Bc);
        long qBase = qLayout.RowStart(batch, 0, head);
        long rowBase = RowStatisticsLayout.Of(p).RowStart(batch, head);
        if (firstBlock < qBlocks)
        {
            StageQueryTile<T, TStorage>(q, dOutput, p, qBase, qRowStride, firstBlock * Br, dPad, qTile, doTile);
            RowStatistics.Load(lse, delta, p.SeqLenQ, rowBase, firstBlock * Br, Br, out float firstLse, out float firstDelta);
            RowStatistics.Store(firstLse, firstDelta, Br, lseTile, deltaTile);
        }
        AsyncCopy.WaitAll();
        Group.Barrier();

        for (int block = firstBlock; block < qBlocks; block++)
        {
            int q0 = block * Br;
            // ---- P = exp2(S·scale·log2 e − L·log2 e), dS = P ∘ (dP − D), both stored transposed ----
            ScoreGradients.ComputeTransposed(tiles, p, mask, q0, k0, q0 < unmaskedFrom, dPad, tx, ty);
            Group.Barrier();

            // ---- dV_j += Pᵀ dO_i;  dK_j += dSᵀ Q_i (this thread's keys ty + 16i) ----
            RegisterTileMath.MultiplyAB(pT.Cast<Float4>(), TStride / 4, ty, RowThreads, Rows,
                doTile.Cast<Float4>(), dPad / 4, tx, ColumnThreads, outChunks, Br, dvAcc, BackwardRegisterTile.StepsPerIteration(dPad));
            RegisterTileMath.MultiplyAB(dsT.Cast<Float4>(), TStride / 4, ty, RowThreads, Rows,
                qTile.Cast<Float4>(), dPad / 4, tx, ColumnThreads, outChunks, Br, dkAcc, BackwardRegisterTile.StepsPerIteration(dPad));
            Group.Barrier();

            // ---- Q_{i+1}, dO_{i+1} stream in while dQ_i += dS K_j · scale is formed and added atomically; L_{i+1} and
            //      D_{i+1} are loaded into registers first and stored after, so their latency hides behind dQ too ----
            bool hasNext = block + 1 < qBlocks;
            float nextLse = 0f, nextDelta = 0f;
            if (hasNext)
            {
                StageQueryTile<T, TStorage>(q, dOutput, p, qBase, qRowStride, q0 + Br, dPad, qTile, doTile);
                RowStatistics.Load(lse, delta, p.SeqLenQ, rowBase, q0 + Br, Br, out nextLse, out nextDelta);
            }
            if (withDq)
                AccumulateDq(dsT, kTile, dqAccum, p, qBase + q0 * qRowStride, qRowStride, XMath.Min(Br, p.SeqLenQ - q0), dPad, outChunks, tx, ty);
            if (hasNext) RowStatistics.Store(nextLse, nextDelta, Br, lseTile, deltaTile);
            AsyncCopy.WaitAll();
            Group.Barrier();
        }

        // ---- epilogue: dK_j · scale, dV_j into the per-query-head fp32 buffers ----
        var outLayout = TokenLayout.KeyGradientsPerQueryHead(p);
        long outFirst = outLayout.RowStart(batch, k0, head);
        for (int i = 0; i < Rows; i++)
        {
            int key = ty + i * RowThreads;
            if (key >= validKeys) continue;
            for (int c = 0; c < outChunks; c++)
                for (int e = 0; e < 4; e++)
                {
                    int col = 4 * (tx + c * ColumnThreads) + e, at = (i * outChunks + c) * 4 + e;
                    if (col >= p.HeadDim) continue;
                    dkAccum[outFirst + key * outLayout.PositionStride + col] = dkAcc[at] * p.Scale;
                    dvAccum[outFirst + key * outLayout.PositionStride + col] = dvAcc[at];
                }
        }
    }

    /// <summary>Starts staging Q_i and dO_i (rows q0 …).</summary>
    private static void StageQueryTile<T, TStorage>(ArrayView<T> q, ArrayView<T> dOutput, AttentionParams p, long qBase,
        long qRowStride, int q0, int dPad, ArrayView<float> qTile, ArrayView<float> doTile)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int validRows = XMath.Min(Br, p.SeqLenQ - q0);
        long first = qBase + q0 * qRowStride;
        TileLoader.StageChunks<T, TStorage>(q, first, qRowStride, validRows, p.HeadDim, qTile, dPad, Br, dPad, BackwardRegisterTile.Threads);
        TileLoader.StageChunks<T, TStorage>(dOutput, first, qRowStride, validRows, p.HeadDim, doTile, dPad, Br, dPad, BackwardRegisterTile.Threads);
    }

    /// <summary>dQ_i += dS K_j · scale for rows 4ty … 4ty+3, fp32 atomics (four floats per instruction) into the accumulator.</summary>
    private static void AccumulateDq(ArrayView<float> dsT, ArrayView<float> kTile, ArrayView<float> dqAccum, AttentionParams p,
        long first, long rowStride, int validRows, int dPad, int outChunks, int tx, int ty)
    {
        var dq = LocalMemory.Allocate<float>(4 * 4 * outChunks);
        TileMath.Fill(dq, 4 * 4 * outChunks, 0f);
        // unrolled at every d' (the other four products roll at d' = 128): 3% faster at d = 128 (H100, 2026-11-21)
        RegisterTileMath.MultiplyAtB(dsT.Cast<Float4>(), TStride / 4, ty, 1,
            kTile.Cast<Float4>(), (dPad + 4) / 4, tx, ColumnThreads, outChunks, Bc, dq);
        float scale = p.Scale;
        for (int i = 0; i < 4; i++)
        {
            int r = 4 * ty + i;
            if (r >= validRows) continue;
            long rowFirst = first + r * rowStride;
            for (int c = 0; c < outChunks; c++)
            {
                // d % 4 == 0: a chunk is all inside the head or all padding; the accumulator rows are 16-byte aligned
                int col = 4 * (tx + c * ColumnThreads), at = (i * outChunks + c) * 4;
                if (col < p.HeadDim)
                    Atomic.AddFour(ref dqAccum[rowFirst + col], dq[at] * scale, dq[at + 1] * scale, dq[at + 2] * scale, dq[at + 3] * scale);
            }
        }
    }
}
