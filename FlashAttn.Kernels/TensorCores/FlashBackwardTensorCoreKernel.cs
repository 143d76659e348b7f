using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// FlashAttention-2 backward (Dao 2023, Algorithm 2) on tensor cores, one group per (K/V block, head, column group).
/// Notation as the paper, transposed so that each warp owns 16 keys (the m of mma.m16n8k16) and the query rows of a Q
/// block are the n: Sᵀ = K_j Q_iᵀ, Pᵀ = exp2(Sᵀ·scale·log2 e − L·log2 e), dPᵀ = V_j dO_iᵀ, dSᵀ = Pᵀ ∘ (dPᵀ − D),
/// dV_j += Pᵀ dO_i, dK_j += dSᵀ Q_i, dQ_i += dS K_j (dS through shared memory, fp32 atomics). Pᵀ and dSᵀ never leave
/// registers for dV and dK: their accumulators, rounded to 16 bits, are the A operands.
/// Grid (h_q, b, ⌈s_k/Bc⌉ · column groups); dK·scale and dV go to per-query-head fp32 buffers, dQ·scale to the fp32
/// accumulator (the convert kernel sums GQA heads and rounds).
/// </summary>
internal static class FlashBackwardTensorCoreKernel
{
    /// <summary>
    /// The kernel. lse (b, h_q, s_q) natural log; delta = rowsum(dO ∘ O) (b, h_q, s_q); dqAccum (b, s_q, h_q, d) fp32 zeroed;
    /// dkAccum, dvAccum (b, s_k, h_q, d) fp32. <paramref name="headDimPadded"/>: <see cref="TensorCoreTile.ForBackward"/>'s.
    /// </summary>
    [LaunchBounds(128, 2)]
    public static void Backward<T, TStorage>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> dOutput,
        ArrayView<float> lse, ArrayView<float> delta, ArrayView<float> dqAccum, ArrayView<float> dkAccum, ArrayView<float> dvAccum,
        AttentionParams p, SpecializedValue<int> headDimPadded, SpecializedValue<bool> causal, SpecializedValue<bool> chunked,
        SpecializedValue<bool> accumulateDq)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T>
    {
        var tile = new TensorCoreTile(headDimPadded.Value, 4);
        int dPad = tile.HeadDimPadded, br = tile.BackwardBlockRows, bc = tile.BackwardBlockCols, stride = tile.Stride;
        int splits = tile.ColumnSplits, columns = tile.SplitColumns;
        int kSteps = dPad / 16, queryTiles = br / 8, columnTiles = columns / 8, dsStride = br + TensorCoreTile.ChunkElements;
        var mask = AttentionMask.Of(p, causal.Value);
        int warp = Group.IdxX / 32, lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        int head = Grid.IdxX, batch = Grid.IdxY, k0 = Grid.IdxZ / splits * bc, c0 = Grid.IdxZ % splits * columns;
        int kvHead = head / p.QueriesPerKvHead, kw = 16 * warp;
        var qLayout = TokenLayout.Contiguous(p.SeqLenQ, p.HeadsQ, p.HeadDim);
        var kvLayout = TokenLayout.Contiguous(p.SeqLenK, p.HeadsKV, p.HeadDim);
        var gradientLayout = TokenLayout.Contiguous(p.SeqLenK, p.HeadsQ, p.HeadDim);

        var shared = SharedMemory.GetDynamic<T>();
        var kTile = shared.SubView(0, bc * stride);
        var vTile = shared.SubView(bc * stride, bc * stride);
        var qTile = shared.SubView(2 * bc * stride, br * stride);
        var doTile = shared.SubView((2 * bc + br) * stride, br * stride);
        var dsTile = shared.SubView((2 * bc + 2 * br) * stride, bc * dsStride);
        var statistics = shared.SubView((2 * bc + 2 * br) * stride + bc * dsStride, 4 * br).Cast<float>();
        var lseTile = statistics.SubView(0, br);
        var deltaTile = statistics.SubView(br, br);

        var sT = LocalMemory.Allocate<float>(4 * queryTiles);
        var dpT = LocalMemory.Allocate<float>(4 * queryTiles);
        var dkAcc = LocalMemory.Allocate<float>(4 * columnTiles);
        var dvAcc = LocalMemory.Allocate<float>(4 * columnTiles);
        for (int e = 0; e < 4 * columnTiles; e++) { dkAcc[e] = 0f; dvAcc[e] = 0f; }

        // ---- K_j, V_j staged once; the Q range starts at the first row that sees key k0 ----
        long kvFirst = kvLayout.RowStart(batch, k0, kvHead);
        int validKeys = XMath.Min(bc, p.SeqLenK - k0);
        HalfTileLoader.Load<T, TStorage>(k, kvFirst, kvLayout.PositionStride, validKeys, p.HeadDim, kTile, stride, bc, dPad, tile.Threads, chunked.Value);
        HalfTileLoader.Load<T, TStorage>(v, kvFirst, kvLayout.PositionStride, validKeys, p.HeadDim, vTile, stride, bc, dPad, tile.Threads, chunked.Value);
        int firstBlock = mask.FirstQuerySeeing(k0) / br, qBlocks = (p.SeqLenQ + br - 1) / br;
        long rowBase = ((long)batch * p.HeadsQ + head) * p.SeqLenQ;
        if (firstBlock < qBlocks)
        {
            StageQueryBlock<T, TStorage>(q, dOutput, p, qLayout, batch, head, firstBlock * br, tile, qTile, doTile, chunked.Value);
            RowStatistics.Load(lse, delta, p, rowBase, firstBlock * br, br, out float firstLse, out float firstDelta);
            RowStatistics.Store(firstLse, firstDelta, br, lseTile, deltaTile);
        }
        AsyncCopy.WaitAll();
        Group.Barrier();

        for (int block = firstBlock; block < qBlocks; block++)
        {
            int q0 = block * br;

            // ---- Sᵀ = K_j Q_iᵀ and dPᵀ = V_j dO_iᵀ: this warp's 16 keys × the block's Br rows ----
            for (int e = 0; e < 4 * queryTiles; e++) { sT[e] = 0f; dpT[e] = 0f; }
            for (int kk = 0; kk < kSteps; kk++)
            {
                var aK = RowFragment(kTile, stride, kw, lane, 16 * kk);
                var aV = RowFragment(vTile, stride, kw, lane, 16 * kk);
                for (int pair = 0; pair < queryTiles / 2; pair++)
                {
                    var bQ = TensorCore.LoadMatrixX4(ref qTile[(16 * pair + lane % 8 + 8 * (lane / 16)) * stride + 16 * kk + 8 * (lane / 8 % 2)]);
                    var bO = TensorCore.LoadMatrixX4(ref doTile[(16 * pair + lane % 8 + 8 * (lane / 16)) * stride + 16 * kk + 8 * (lane / 8 % 2)]);
                    Fragments.SetC(sT, 2 * pair, TStorage.MultiplyAdd(aK, new Int2(bQ.X, bQ.Y), Fragments.GetC(sT, 2 * pair)));
                    Fragments.SetC(sT, 2 * pair + 1, TStorage.MultiplyAdd(aK, new Int2(bQ.Z, bQ.W), Fragments.GetC(sT, 2 * pair + 1)));
                    Fragments.SetC(dpT, 2 * pair, TStorage.MultiplyAdd(aV, new Int2(bO.X, bO.Y), Fragments.GetC(dpT, 2 * pair)));
                    Fragments.SetC(dpT, 2 * pair + 1, TStorage.MultiplyAdd(aV, new Int2(bO.Z, bO.W), Fragments.GetC(dpT, 2 * pair + 1)));
                }
            }

            // ---- Pᵀ = exp2(Sᵀ·scale·log2 e − L·log2 e) (masked: 0), dSᵀ = Pᵀ ∘ (dPᵀ − D) in dpT ----
            bool masked = mask.QueryBlockNeedsMask(q0, k0, bc);
            for (int e = 0; e < 4 * queryTiles; e++)
            {
                int key = k0 + kw + g + 8 * (e % 4 / 2), column = 8 * (e / 4) + 2 * t + e % 2;
                float pij = XMath.FastExp2(sT[e] * p.ScaleLog2 - lseTile[column]);
                if (masked && !mask.Visible(q0 + column, key)) pij = 0f;
                sT[e] = pij;
                dpT[e] = pij * (dpT[e] - deltaTile[column]);
            }

            // ---- dV_j += Pᵀ dO_i, dK_j += dSᵀ Q_i: the accumulators as A operands, dO and Q as [k][n] (transposed loads) ----
            for (int kk = 0; kk < br / 16; kk++)
            {
                var aP = Fragments.AccumulatorsAsA<T, TStorage>(sT, kk);
                var aS = Fragments.AccumulatorsAsA<T, TStorage>(dpT, kk);
                for (int pair = 0; pair < columnTiles / 2; pair++)
                {
                    int at = (16 * kk + lane % 8 + 8 * (lane / 8 % 2)) * stride + c0 + 16 * pair + 8 * (lane / 16);
                    var bO = TensorCore.LoadMatrixX4Transposed(ref doTile[at]);
                    var bQ = TensorCore.LoadMatrixX4Transposed(ref qTile[at]);
                    Fragments.SetC(dvAcc, 2 * pair, TStorage.MultiplyAdd(aP, new Int2(bO.X, bO.Y), Fragments.GetC(dvAcc, 2 * pair)));
                    Fragments.SetC(dvAcc, 2 * pair + 1, TStorage.MultiplyAdd(aP, new Int2(bO.Z, bO.W), Fragments.GetC(dvAcc, 2 * pair + 1)));
                    Fragments.SetC(dkAcc, 2 * pair, TStorage.MultiplyAdd(aS, new Int2(bQ.X, bQ.Y), Fragments.GetC(dkAcc, 2 * pair)));
                    Fragments.SetC(dkAcc, 2 * pair + 1, TStorage.MultiplyAdd(aS, new Int2(bQ.Z, bQ.W), Fragments.GetC(dkAcc, 2 * pair + 1)));
                }
            }

            // ---- dSᵀ to shared (16-bit, keys × rows) for dQ, which contracts over the keys of all warps ----
            for (int j = 0; j < queryTiles; j++)
                for (int r = 0; r < 2; r++)
                    dsTile.Cast<int>()[((kw + g + 8 * r) * dsStride + 8 * j + 2 * t) / 2] = TStorage.Pack(dpT[4 * j + 2 * r], dpT[4 * j + 2 * r + 1]);
            Group.Barrier();

            // ---- Q_{i+1}, dO_{i+1} stream in while dQ_i += dS K_j · scale is formed and added atomically ----
            bool hasNext = block + 1 < qBlocks;
            float nextLse = 0f, nextDelta = 0f;
            if (hasNext)
            {
                StageQueryBlock<T, TStorage>(q, dOutput, p, qLayout, batch, head, q0 + br, tile, qTile, doTile, chunked.Value);
                RowStatistics.Load(lse, delta, p, rowBase, q0 + br, br, out nextLse, out nextDelta);
            }
            if (accumulateDq.Value)
                AccumulateDq<T, TStorage>(dsTile, dsStride, kTile, stride, dqAccum, p, qLayout, batch, head, q0, c0, bc, columnTiles, warp, lane);
            if (hasNext) RowStatistics.Store(nextLse, nextDelta, br, lseTile, deltaTile);
            AsyncCopy.WaitAll();
            Group.Barrier();
        }

        // ---- epilogue: dK_j · scale and dV_j into the per-query-head fp32 buffers ----
        for (int r = 0; r < 2; r++)
        {
            int key = k0 + kw + g + 8 * r;
            if (key >= p.SeqLenK) continue;
            long first = gradientLayout.RowStart(batch, key, head);
            for (int j = 0; j < columnTiles; j++)
                for (int e = 0; e < 2; e++)
                {
                    int column = c0 + 8 * j + 2 * t + e;
                    if (column >= p.HeadDim) continue;
                    dkAccum[first + column] = dkAcc[4 * j + 2 * r + e] * p.Scale;
                    dvAccum[first + column] = dvAcc[4 * j + 2 * r + e];
                }
        }
    }

    /// <summary>dQ_i += dS K_j · scale: this warp's 16 rows of the block × the group's columns, fp32 atomics.</summary>
    private static void AccumulateDq<T, TStorage>(ArrayView<T> dsTile, int dsStride, ArrayView<T> kTile, int stride, ArrayView<float> dqAccum,
        AttentionParams p, TokenLayout qLayout, int batch, int head, int q0, int c0, int bc, int columnTiles, int warp, int lane)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T>
    {
        int g = lane / 4, t = lane % 4;
        var dq = LocalMemory.Allocate<float>(4 * columnTiles);
        for (int e = 0; e < 4 * columnTiles; e++) dq[e] = 0f;
        for (int kk = 0; kk < bc / 16; kk++)
        {
            // A = dS (rows × keys) from dSᵀ (keys × rows), transposed: (rows 0–7 | 8–15) × (keys 0–7 | 8–15) → a0…a3
            var a = TensorCore.LoadMatrixX4Transposed(ref dsTile[(16 * kk + lane % 8 + 8 * (lane / 16)) * dsStride + 16 * warp + 8 * (lane / 8 % 2)]);
            for (int pair = 0; pair < columnTiles / 2; pair++)
            {
                var b = TensorCore.LoadMatrixX4Transposed(ref kTile[(16 * kk + lane % 8 + 8 * (lane / 8 % 2)) * stride + c0 + 16 * pair + 8 * (lane / 16)]);
                Fragments.SetC(dq, 2 * pair, TStorage.MultiplyAdd(a, new Int2(b.X, b.Y), Fragments.GetC(dq, 2 * pair)));
                Fragments.SetC(dq, 2 * pair + 1, TStorage.MultiplyAdd(a, new Int2(b.Z, b.W), Fragments.GetC(dq, 2 * pair + 1)));
            }
        }
        for (int r = 0; r < 2; r++)
        {
            int row = q0 + 16 * warp + g + 8 * r;
            if (row >= p.SeqLenQ) continue;
            long first = qLayout.RowStart(batch, row, head);
            for (int j = 0; j < columnTiles; j++)
                for (int e = 0; e < 2; e++)
                {
                    int column = c0 + 8 * j + 2 * t + e;
                    if (column < p.HeadDim) Atomic.Add(ref dqAccum[first + column], dq[4 * j + 2 * r + e] * p.Scale);
                }
        }
    }

    /// <summary>An A fragment of 16 rows from <paramref name="row0"/> × 16 columns from <paramref name="column0"/> of a row-major tile.</summary>
    private static Int4 RowFragment<T>(ArrayView<T> tile, int stride, int row0, int lane, int column0) where T : unmanaged
        => TensorCore.LoadMatrixX4(ref tile[(row0 + lane % 16) * stride + column0 + 8 * (lane / 16)]);

    /// <summary>Starts staging Q_i and dO_i (rows q0 …).</summary>
    private static void StageQueryBlock<T, TStorage>(ArrayView<T> q, ArrayView<T> dOutput, AttentionParams p, TokenLayout layout,
        int batch, int head, int q0, TensorCoreTile tile, ArrayView<T> qTile, ArrayView<T> doTile, bool chunked)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int validRows = XMath.Min(tile.BackwardBlockRows, p.SeqLenQ - q0);
        long first = layout.RowStart(batch, q0, head);
        HalfTileLoader.Load<T, TStorage>(q, first, layout.PositionStride, validRows, p.HeadDim, qTile, tile.Stride, tile.BackwardBlockRows, tile.HeadDimPadded, tile.Threads, chunked);
        HalfTileLoader.Load<T, TStorage>(dOutput, first, layout.PositionStride, validRows, p.HeadDim, doTile, tile.Stride, tile.BackwardBlockRows, tile.HeadDimPadded, tile.Threads, chunked);
    }
}
