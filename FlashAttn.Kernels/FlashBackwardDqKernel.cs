using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Deterministic dQ (FA2 Algorithm 2 reorganised by Q tile, as in FA2's deterministic path): one group per
/// (Q tile of Br rows, query head, batch), grid (⌈s_q/Br⌉, h_q, b), looping over the K/V tiles the rows can
/// see in a fixed order, so dQ_i = Σ_j dS_ij K_j · scale needs no atomics.
/// <code>
/// paper              here
/// Q_i, dO_i          tiles.Q, tiles.DOut (shared fp32, loaded once)
/// K_j, V_j           tiles.K, tiles.V  (shared fp32, streamed)
/// P_ij, dS_ij        ScoreGradients → tiles.P, tiles.DS
/// dQ_i               dqAcc (registers, RowsPerThread × HeadColsPerThread)
/// </code>
/// The K/V range and masking follow <see cref="FlashForwardKernel"/>; so do the sequences (dense or varlen, grid z = sequence).
/// Modifiers and dropout through the same <see cref="ScoreGradients.Compute"/> as <see cref="FlashBackwardKernel"/>: the same
/// dropout mask (a function of the position) and the same derivative.
/// </summary>
internal static class FlashBackwardDqKernel
{
    /// <summary>The kernel: writes dQ · scale (fp32) into <paramref name="dqAccum"/> (<see cref="TokenLayout.Queries"/>). Modifiers and flags: the forward's.</summary>
    public static void BackwardDq<T, TStorage, TScore, TMask>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> dOutput,
        ArrayView<float> lse, ArrayView<float> delta, ArrayView<float> dqAccum, AttentionParams p, SequenceInfo sequences,
        AttentionModifiers<TScore, TMask> modifiers, SpecializedValue<int> sequenceKind,
        SpecializedValue<int> blockRows, SpecializedValue<int> blockCols, SpecializedValue<int> threads,
        SpecializedValue<int> threadsPerRow, SpecializedValue<int> headDimPadded, SpecializedValue<bool> causal, SpecializedValue<int> modifierFlags)
        where T : unmanaged where TStorage : struct, IStorage<T> where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var tile = new AttentionTileConfig(blockRows.Value, blockCols.Value, threads.Value, threadsPerRow.Value, headDimPadded.Value);
        int br = tile.BlockRows, bc = tile.BlockCols, stride = tile.TileStride, tpr = tile.ThreadsPerRow;
        int tm = tile.RowsPerThread, td = tile.HeadColsPerThread;
        int tx = Group.IdxX % tpr, ty = Group.IdxX / tpr;
        int q0 = Grid.IdxX * br, head = Grid.IdxY, kind = sequenceKind.Value;
        var seq = sequences.Bounds(Grid.IdxZ, p, kind);
        if (q0 >= seq.QueryLength) return; // past this sequence's queries (varlen): the whole group leaves before any barrier
        var mask = seq.Mask(p, causal.Value);
        int kvHead = head / p.QueriesPerKvHead;

        var tiles = BackwardSharedTiles.Carve(SharedMemory.GetDynamic<float>(), br, bc, stride);

        var scores = LocalMemory.Allocate<float>(tm * tile.KeysPerThread);
        var dP = LocalMemory.Allocate<float>(tm * tile.KeysPerThread);
        var dqAcc = LocalMemory.Allocate<float>(tm * td);
        TileMath.Fill(dqAcc, tm * td, 0f);

        // ---- Q_i, dO_i, L_i, D_i: loaded once ----
        int validRows = XMath.Min(br, seq.QueryLength - q0);
        var qLayout = TokenLayout.Queries(p);
        long rowStride = qLayout.PositionStride;
        long first = seq.QueryRowStart(qLayout, q0, head);
        long vectorFirst = seq.StatisticIndex(RowStatisticsLayout.Of(p), head, q0);
        TileLoader.LoadRows<T, TStorage>(q, first, rowStride, validRows, p.HeadDim, tiles.Q, br, tile);
        TileLoader.LoadRows<T, TStorage>(dOutput, first, rowStride, validRows, p.HeadDim, tiles.DOut, br, tile);
        TileLoader.LoadVector(lse, vectorFirst, validRows, SoftmaxConstants.Log2E, float.PositiveInfinity, tiles.Lse, br, tile);
        TileLoader.LoadVector(delta, vectorFirst, validRows, 1f, 0f, tiles.Delta, br, tile);

        // ---- K/V range and element test as the forward's: the blocks the rows' windows reach ----
        int flags = modifierFlags.Value;
        int kvBlocks = mask.KeyBlockCount(q0, validRows, bc);
        var kvLayout = TokenLayout.KeysValues(p);
        for (int block = mask.FirstKeyBlock(q0, bc); block < kvBlocks; block++)
        {
            int k0 = block * bc;
            if (modifiers.HidesTile(flags, seq.Index, head, q0, br, k0, bc)) continue; // a block mask empties it: no load
            // ---- stage K_j, V_j (the previous block ended with a barrier, so the tiles are free) ----
            TileLoader.LoadKeyValueBlock<T, TStorage>(k, v, sequences, kvLayout, seq, k0, kvHead, p, kind, tiles.K, tiles.V, tile);
            Group.Barrier();
            if (mask.BlockNeedsMask(q0, validRows, k0, bc))
                DqBlock<MaskedBlock, TScore, TMask>(p, mask, seq, head, modifiers, flags, q0, k0, tile, tx, ty, tiles, scores, dP, dqAcc);
            else
                DqBlock<FullBlock, TScore, TMask>(p, mask, seq, head, modifiers, flags, q0, k0, tile, tx, ty, tiles, scores, dP, dqAcc);
        }

        // ---- epilogue: dQ_i · scale ----
        for (int i = 0; i < tm; i++)
        {
            int r = ty * tm + i;
            if (r >= validRows) continue;
            for (int j = 0; j < td; j++)
            {
                int col = tx + j * tpr;
                if (col < p.HeadDim) dqAccum[first + r * rowStride + col] = dqAcc[i * td + j] * p.Scale;
            }
        }
    }

    /// <summary>One staged K/V tile: recompute P and dS; dQ_i += dS K_j.</summary>
    private static void DqBlock<TBlock, TScore, TMask>(AttentionParams p, AttentionMask mask, SequenceBounds seq, int head,
        AttentionModifiers<TScore, TMask> modifiers, int modifierFlags, int q0, int k0, AttentionTileConfig tile, int tx, int ty,
        BackwardSharedTiles tiles, ArrayView<float> scores, ArrayView<float> dP, ArrayView<float> dqAcc)
        where TBlock : struct, IBlockMask where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        int bc = tile.BlockCols, tm = tile.RowsPerThread;

        // ---- P, dS for this pair ----
        ScoreGradients.Compute<TBlock, TScore, TMask>(tiles, p, mask, seq, head, modifiers, modifierFlags, q0, k0, tile, tx, ty, scores, dP);
        Group.Barrier();

        // ---- dQ_i += dS K_j ----
        TileMath.MultiplyAB(tiles.DS, bc, tiles.K, tile.TileStride, bc, dqAcc, ty * tm, tm, tx, tile.ThreadsPerRow, tile.HeadColsPerThread);
        Group.Barrier();
    }
}
