using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// FlashAttention-2 backward (Dao 2023, Algorithm 2), SIMT, by recomputation. One group per (K/V tile of Bc
/// keys, query head, batch): grid (⌈s_k/Bc⌉, h_q, b). K_j, V_j stay in shared memory and dK_j, dV_j in
/// registers while the Q tiles that can see them stream past.
/// <code>
/// paper                         here
/// K_j, V_j                      tiles.K, tiles.V  (shared fp32, Bc × d)
/// Q_i, dO_i                     tiles.Q, tiles.DOut (shared fp32, Br × d)
/// L_i, D_i                      tiles.Lse (L·log2 e), tiles.Delta
/// P_ij = exp(S_ij − L_i)        = exp2(S·scale·log2 e − L·log2 e)   (registers, then tiles.P)
/// dP_ij = dO_i V_jᵀ             dP (registers)
/// dS_ij = P ∘ (dP − D_i)        (registers, then tiles.DS)
/// dV_j += P_ijᵀ dO_i            dvAcc (registers, KeyRowsPerThread × HeadColsPerThread)
/// dK_j += dS_ijᵀ Q_i · scale    dkAcc
/// dQ_i += dS_ij K_j · scale     atomically added into the fp32 dQ accumulator (skipped in deterministic
///                               mode, where <see cref="FlashBackwardDqKernel"/> computes dQ)
/// </code>
/// dK/dV are written per QUERY head into fp32 buffers (b, s_k, h_q, d); <see cref="FlashBackwardConvertKernel"/>
/// sums the query heads of a shared kv head in a fixed order and rounds to the storage type.
/// Dense or packed (varlen) sequences (grid z = sequence); s_q, s_k and the causal diagonal are then the sequence's own.
/// Causal and sliding window: only the Q tiles whose rows' windows reach the K/V tile are visited.
/// Score and mask modifiers and dropout in <see cref="ScoreGradients.Compute"/>, as the tensor-core backward.
/// </summary>
internal static class FlashBackwardKernel
{
    /// <summary>
    /// The kernel. lse (b, h_q, s_q) natural log; delta (b, h_q, s_q); dqAccum (b, s_q, h_q, d) fp32, zeroed;
    /// dkAccum, dvAccum (b, s_k, h_q, d) fp32 (in q's and k's dimension order: <see cref="TokenLayout"/>) (varlen: <see cref="SequenceInfo"/>). Launch with grid (⌈max s_k/Bc⌉, h_q,
    /// sequences), <c>Threads</c> threads,
    /// <c>BackwardSharedBytes</c> of dynamic shared memory. The modifiers and <paramref name="modifierFlags"/> must be the forward's.
    /// </summary>
    public static void Backward<T, TStorage, TScore, TMask>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> dOutput,
        ArrayView<float> lse, ArrayView<float> delta, ArrayView<float> dqAccum, ArrayView<float> dkAccum, ArrayView<float> dvAccum,
        AttentionParams p, SequenceInfo sequences, AttentionModifiers<TScore, TMask> modifiers, SpecializedValue<int> sequenceKind,
        SpecializedValue<int> blockRows, SpecializedValue<int> blockCols, SpecializedValue<int> threads,
        SpecializedValue<int> threadsPerRow, SpecializedValue<int> headDimPadded, SpecializedValue<bool> causal,
        SpecializedValue<bool> accumulateDq, SpecializedValue<int> modifierFlags)
        where T : unmanaged where TStorage : struct, IStorage<T> where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var tile = new AttentionTileConfig(blockRows.Value, blockCols.Value, threads.Value, threadsPerRow.Value, headDimPadded.Value);
        bool withDq = accumulateDq.Value;
        int br = tile.BlockRows, bc = tile.BlockCols, stride = tile.TileStride;
        int tkr = tile.KeyRowsPerThread, td = tile.HeadColsPerThread;
        int tx = Group.IdxX % tile.ThreadsPerRow, ty = Group.IdxX / tile.ThreadsPerRow;
        int k0 = Grid.IdxX * bc, head = Grid.IdxY, kind = sequenceKind.Value;
        var seq = sequences.Bounds(Grid.IdxZ, p, kind);
        if (k0 >= seq.KeyLength) return; // past this sequence's keys (varlen): the whole group leaves before any barrier
        var mask = seq.Mask(p, causal.Value);
        int kvHead = head / p.QueriesPerKvHead;

        var tiles = BackwardSharedTiles.Carve(SharedMemory.GetDynamic<float>(), br, bc, stride);

        var dkAcc = LocalMemory.Allocate<float>(tkr * td);
        var dvAcc = LocalMemory.Allocate<float>(tkr * td);
        var scores = LocalMemory.Allocate<float>(tile.RowsPerThread * tile.KeysPerThread);
        var dP = LocalMemory.Allocate<float>(tile.RowsPerThread * tile.KeysPerThread);
        var dqAcc = LocalMemory.Allocate<float>(tile.RowsPerThread * td);
        TileMath.Fill(dkAcc, tkr * td, 0f);
        TileMath.Fill(dvAcc, tkr * td, 0f);

        // ---- K_j, V_j: loaded once ----
        TileLoader.LoadKeyValueBlock<T, TStorage>(k, v, sequences, TokenLayout.KeysValues(p), seq, k0, kvHead, p, kind, tiles.K, tiles.V, tile);

        // ---- Q range: from the first row whose window reaches key k0 to the last that reaches the block's last key;
        //      the element test only where the Q tile crosses a window edge or the keys pass s_k (a mask modifier acts
        //      on every block, in ScoreGradients) ----
        int flags = modifierFlags.Value;
        int qBlocks = (mask.QueryEnd(k0, bc, seq.QueryLength) + br - 1) / br;
        for (int block = mask.FirstQuerySeeing(k0) / br; block < qBlocks; block++)
        {
            int q0 = block * br;
            if (modifiers.HidesTile(flags, seq.Index, head, q0, br, k0, bc)) continue; // a block mask empties it
            if (mask.QueryBlockNeedsMask(q0, br, k0, bc))
                BackwardBlock<T, TStorage, MaskedBlock, TScore, TMask>(q, dOutput, lse, delta, dqAccum, p, mask, seq, head, modifiers, flags, q0, k0, withDq,
                    tile, tx, ty, tiles, scores, dP, dqAcc, dkAcc, dvAcc);
            else
                BackwardBlock<T, TStorage, FullBlock, TScore, TMask>(q, dOutput, lse, delta, dqAccum, p, mask, seq, head, modifiers, flags, q0, k0, withDq,
                    tile, tx, ty, tiles, scores, dP, dqAcc, dkAcc, dvAcc);
        }

        // ---- epilogue: dK_j · scale, dV_j into the per-query-head fp32 buffers ----
        var outLayout = TokenLayout.KeyGradientsPerQueryHead(p);
        long outRowStride = outLayout.PositionStride;
        long outFirst = outLayout.RowStart(seq.KeyBatch, seq.KeyOffset + k0, head);
        int validKeys = XMath.Min(bc, seq.KeyLength - k0);
        for (int i = 0; i < tkr; i++)
        {
            int key = ty * tkr + i;
            if (key >= validKeys) continue;
            for (int j = 0; j < td; j++)
            {
                int col = tx + j * tile.ThreadsPerRow;
                if (col >= p.HeadDim) continue;
                dkAccum[outFirst + key * outRowStride + col] = dkAcc[i * td + j] * p.Scale;
                dvAccum[outFirst + key * outRowStride + col] = dvAcc[i * td + j];
            }
        }
    }

    /// <summary>One Q tile against the group's K/V tile (inner loop body of Algorithm 2).</summary>
    private static void BackwardBlock<T, TStorage, TBlock, TScore, TMask>(ArrayView<T> q, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<float> delta, ArrayView<float> dqAccum, AttentionParams p, AttentionMask mask, SequenceBounds seq, int head,
        AttentionModifiers<TScore, TMask> modifiers, int modifierFlags, int q0, int k0, bool withDq, AttentionTileConfig tile, int tx, int ty,
        BackwardSharedTiles tiles,
        ArrayView<float> scores, ArrayView<float> dP, ArrayView<float> dqAcc, ArrayView<float> dkAcc, ArrayView<float> dvAcc)
        where T : unmanaged where TStorage : struct, IStorage<T> where TBlock : struct, IBlockMask
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        int br = tile.BlockRows, bc = tile.BlockCols, stride = tile.TileStride, tpr = tile.ThreadsPerRow;
        int tm = tile.RowsPerThread, td = tile.HeadColsPerThread;
        int validRows = XMath.Min(br, seq.QueryLength - q0);

        // ---- stage Q_i, dO_i, L_i (log2 domain; +∞ past s_q so P = 0 there), D_i ----
        var qLayout = TokenLayout.Queries(p);
        long rowStride = qLayout.PositionStride;
        long first = seq.QueryRowStart(qLayout, q0, head);
        long vectorFirst = seq.StatisticIndex(RowStatisticsLayout.Of(p), head, q0);
        TileLoader.LoadRows<T, TStorage>(q, first, rowStride, validRows, p.HeadDim, tiles.Q, br, tile);
        TileLoader.LoadRows<T, TStorage>(dOutput, first, rowStride, validRows, p.HeadDim, tiles.DOut, br, tile);
        TileLoader.LoadVector(lse, vectorFirst, validRows, SoftmaxConstants.Log2E, float.PositiveInfinity, tiles.Lse, br, tile);
        TileLoader.LoadVector(delta, vectorFirst, validRows, 1f, 0f, tiles.Delta, br, tile);
        Group.Barrier();

        // ---- recompute P = exp2(S·scale·log2 e − L·log2 e); dP = dO Vᵀ; dS = P ∘ (dP − D) ----
        ScoreGradients.Compute<TBlock, TScore, TMask>(tiles, p, mask, seq, head, modifiers, modifierFlags, q0, k0, tile, tx, ty, scores, dP);
        Group.Barrier();

        // ---- dV_j += Pᵀ dO_i;  dK_j += dSᵀ Q_i ----
        int keyBase = ty * tile.KeyRowsPerThread;
        TileMath.MultiplyAtB(tiles.P, bc, tiles.DOut, stride, br, dvAcc, keyBase, tile.KeyRowsPerThread, tx, tpr, td);
        TileMath.MultiplyAtB(tiles.DS, bc, tiles.Q, stride, br, dkAcc, keyBase, tile.KeyRowsPerThread, tx, tpr, td);

        // ---- dQ_i += dS K_j · scale (fp32 atomics; off in deterministic mode) ----
        if (withDq)
        {
            TileMath.Fill(dqAcc, tm * td, 0f);
            TileMath.MultiplyAB(tiles.DS, bc, tiles.K, stride, bc, dqAcc, ty * tm, tm, tx, tpr, td);
            for (int i = 0; i < tm; i++)
            {
                int r = ty * tm + i;
                if (r >= validRows) continue;
                for (int j = 0; j < td; j++)
                {
                    int col = tx + j * tpr;
                    if (col < p.HeadDim) Atomic.Add(ref dqAccum[first + r * rowStride + col], dqAcc[i * td + j] * p.Scale);
                }
            }
        }
        Group.Barrier();
    }
}
