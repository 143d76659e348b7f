using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// FlashAttention-2 forward (Dao 2023, Algorithm 1), SIMT. One group per (Q tile of Br rows, query head,
/// batch): grid (⌈s_q/Br⌉, h_q, b). The Q tile stays in shared memory; K/V tiles of Bc keys stream past it.
/// <code>
/// paper        here
/// Q_i          qTile    (shared, fp32, Br × d)
/// K_j, V_j     kTile, vTile (shared, fp32, Bc × d)
/// S_ij         scores   (registers, RowsPerThread × KeysPerThread per thread, log2 domain)
/// P̃_ij         pTile    (shared, Br × Bc) — exp2(S − m)
/// m_i          rowMax   (registers, log2 domain: max of S · scale · log2 e)
/// ℓ_i          rowSum   (registers)
/// O_i          acc      (registers, RowsPerThread × HeadColsPerThread, un-normalized until the end)
/// L_i          lse      = (m_i + log2 ℓ_i) · ln 2, natural log; +∞ for a row with no visible key
/// </code>
/// Causal and sliding window: K/V tiles outside the Q tile's rows' windows (right of the last row's right edge, left of
/// the first row's left edge) are never visited; tiles that straddle an edge or the s_k end run the same inner method
/// instantiated with <see cref="MaskedBlock"/>.
/// Score and mask modifiers and dropout as <see cref="FlashForwardTensorCoreKernel"/>: scores through
/// <see cref="ModifiedScores.Log2Score"/> on every block, full or not (so the mask modifier acts everywhere), and dropout zeroes P after the online-softmax update (ℓ keeps the whole P). Which act is compiled in (<c>modifierFlags</c>).
/// Sequences of any <see cref="SequenceKind"/> (grid z = sequence): packed (varlen) or against a KV cache, contiguous
/// or paged; s_q, s_k and the causal diagonal are then the sequence's own (<see cref="SequenceBounds"/>).
/// </summary>
internal static class FlashForwardKernel
{
    /// <summary>
    /// The kernel. q (b, s_q, h_q, d), k and v (b, s_k, h_kv, d), output (b, s_q, h_q, d), lse (b, h_q, s_q) fp32 (or
    /// q, k, v, output (b, h, s, d): <see cref="TokenLayout"/>; layouts of other sequence kinds: <see cref="SequenceInfo"/>). Launch with grid (⌈max s_q/Br⌉, h_q, sequences), <c>Threads</c> threads and <c>ForwardSharedBytes</c> of dynamic shared memory.
    /// <paramref name="modifierFlags"/>: <see cref="AttentionModifiers{TScore, TMask}.FlagsWith"/>.
    /// </summary>
    public static void Forward<T, TStorage, TScore, TMask>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output,
        ArrayView<float> lse, AttentionParams p, SequenceInfo sequences, AttentionModifiers<TScore, TMask> modifiers, SpecializedValue<int> sequenceKind,
        SpecializedValue<int> blockRows, SpecializedValue<int> blockCols, SpecializedValue<int> threads,
        SpecializedValue<int> threadsPerRow, SpecializedValue<int> headDimPadded, SpecializedValue<bool> causal, SpecializedValue<int> modifierFlags)
        where T : unmanaged where TStorage : struct, IStorage<T> where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var tile = new AttentionTileConfig(blockRows.Value, blockCols.Value, threads.Value, threadsPerRow.Value, headDimPadded.Value);
        int br = tile.BlockRows, bc = tile.BlockCols, stride = tile.TileStride;
        int tm = tile.RowsPerThread, td = tile.HeadColsPerThread;
        int tx = Group.IdxX % tile.ThreadsPerRow, ty = Group.IdxX / tile.ThreadsPerRow;
        int q0 = Grid.IdxX * br, head = Grid.IdxY, kind = sequenceKind.Value;
        var seq = sequences.Bounds(Grid.IdxZ, p, kind);
        if (q0 >= seq.QueryLength) return; // past this sequence's queries (varlen): the whole group leaves before any barrier
        var mask = seq.Mask(p, causal.Value);
        int kvHead = head / p.QueriesPerKvHead;
        var qLayout = TokenLayout.Queries(p);
        var kvLayout = TokenLayout.KeysValues(p);

        var shared = SharedMemory.GetDynamic<float>();
        var qTile = shared.SubView(0, br * stride);
        var kTile = shared.SubView(br * stride, bc * stride);
        var vTile = shared.SubView((br + bc) * stride, bc * stride);
        var pTile = shared.SubView((br + 2 * bc) * stride, br * bc);

        var acc = LocalMemory.Allocate<float>(tm * td);
        var scores = LocalMemory.Allocate<float>(tm * tile.KeysPerThread);
        var rowMax = LocalMemory.Allocate<float>(tm);
        var rowSum = LocalMemory.Allocate<float>(tm);
        TileMath.Fill(acc, tm * td, 0f);
        TileMath.Fill(rowMax, tm, float.NegativeInfinity);
        TileMath.Fill(rowSum, tm, 0f);

        // ---- Q_i: loaded once, widened to fp32 ----
        long qFirst = seq.QueryRowStart(qLayout, q0, head);
        int validRows = XMath.Min(br, seq.QueryLength - q0);
        TileLoader.LoadRows<T, TStorage>(q, qFirst, qLayout.PositionStride, validRows, p.HeadDim, qTile, br, tile);

        // ---- K/V range: from the first row's left edge to the last row's right edge (or s_k); the element test only
        //      on blocks that cross an edge ----
        int kvBlocks = mask.KeyBlockCount(q0, validRows, bc);
        for (int block = mask.FirstKeyBlock(q0, bc); block < kvBlocks; block++)
        {
            int k0 = block * bc;
            if (modifiers.HidesTile(modifierFlags.Value, seq.Index, head, q0, br, k0, bc)) continue; // a block mask empties it: no load
            // ---- stage K_j, V_j (the previous block ended with a barrier, so the tiles are free) ----
            TileLoader.LoadKeyValueBlock<T, TStorage>(k, v, sequences, kvLayout, seq, k0, kvHead, p, kind, kTile, vTile, tile);
            Group.Barrier();
            if (mask.BlockNeedsMask(q0, validRows, k0, bc))
                ForwardBlock<MaskedBlock, TScore, TMask>(p, mask, seq, head, modifiers, modifierFlags.Value, q0, k0, tile, tx, ty,
                    qTile, kTile, vTile, pTile, scores, acc, rowMax, rowSum);
            else
                ForwardBlock<FullBlock, TScore, TMask>(p, mask, seq, head, modifiers, modifierFlags.Value, q0, k0, tile, tx, ty,
                    qTile, kTile, vTile, pTile, scores, acc, rowMax, rowSum);
        }

        // ---- epilogue: O_i = acc / ℓ_i, L_i = (m_i + log2 ℓ_i) · ln 2 ----
        var statistics = RowStatisticsLayout.Of(p);
        for (int i = 0; i < tm; i++)
        {
            float sum = OnlineSoftmax.RowSum(rowSum[i], tile.ThreadsPerRow); // before the branch: the whole warp shuffles
            int row = q0 + ty * tm + i;
            if (row >= seq.QueryLength) continue;
            bool empty = sum == 0f; // no visible key: O = 0, L = +∞
            float inverse = empty ? 0f : 1f / sum;
            long oFirst = qFirst + (long)(ty * tm + i) * qLayout.PositionStride;
            for (int j = 0; j < td; j++)
            {
                int col = tx + j * tile.ThreadsPerRow;
                if (col < p.HeadDim) output[oFirst + col] = TStorage.Store(acc[i * td + j] * inverse);
            }
            if (tx == 0)
                lse[seq.StatisticIndex(statistics, head, row)] =
                    empty ? float.PositiveInfinity : (rowMax[i] + XMath.Log2(sum)) * SoftmaxConstants.Ln2;
        }
    }

    /// <summary>One staged K/V tile (inner loop body of Algorithm 1): S = Q Kᵀ; online softmax; O += P V.</summary>
    private static void ForwardBlock<TBlock, TScore, TMask>(AttentionParams p, AttentionMask mask, SequenceBounds seq, int head,
        AttentionModifiers<TScore, TMask> modifiers, int modifierFlags, int q0, int k0, AttentionTileConfig tile, int tx, int ty,
        ArrayView<float> qTile, ArrayView<float> kTile, ArrayView<float> vTile, ArrayView<float> pTile,
        ArrayView<float> scores, ArrayView<float> acc, ArrayView<float> rowMax, ArrayView<float> rowSum)
        where TBlock : struct, IBlockMask where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        int bc = tile.BlockCols, stride = tile.TileStride, tpr = tile.ThreadsPerRow;
        int tm = tile.RowsPerThread, tn = tile.KeysPerThread, td = tile.HeadColsPerThread;
        bool scoreModified = (modifierFlags & AttentionModifiers<TScore, TMask>.ScoreFlag) != 0;
        bool maskModified = (modifierFlags & AttentionModifiers<TScore, TMask>.MaskFlag) != 0;
        bool dropout = (modifierFlags & AttentionModifiers<TScore, TMask>.DropoutFlag) != 0;

        // ---- S = Q Kᵀ, scaled into the log2 domain (through the score and mask modifiers), masked to −∞; the causal/window
        //      test after, as in the backward's P (so plain attention compiles to the same code as before modifiers) ----
        TileMath.Fill(scores, tm * tn, 0f);
        TileMath.MultiplyABt(qTile, stride, kTile, stride, tile.HeadDimPadded, scores, ty * tm, tm, tx, tpr, tn);
        for (int i = 0; i < tm; i++)
            for (int j = 0; j < tn; j++)
            {
                int row = q0 + ty * tm + i, key = k0 + tx + j * tpr;
                var at = ModifiedScores.Position(seq.Index, head, row, key, mask.Offset, seq.QueryLength, seq.KeyLength);
                float s = ModifiedScores.Log2Score(scores[i * tn + j], at, (row < seq.QueryLength) & (key < seq.KeyLength), false, p, modifiers,
                    scoreModified, maskModified);
                if (TBlock.Enabled && !mask.Visible(row, key)) s = float.NegativeInfinity;
                scores[i * tn + j] = s;
            }

        // ---- online softmax: m_new = max(m, rowmax S); P = exp2(S − m_new); ℓ = ℓ·exp2(m − m_new) + rowsum P ----
        for (int i = 0; i < tm; i++)
        {
            float correction = OnlineSoftmax.Update(scores, i * tn, tn, pTile, (ty * tm + i) * bc + tx, tpr, rowMax, rowSum, i, tpr);
            for (int j = 0; j < td; j++) acc[i * td + j] *= correction;
        }

        // ---- dropout: ℓ keeps the whole P; P V takes the kept entries (this thread's own), scaled by 1/(1 − p); one Philox
        //      call per run of this thread's keys that share a dropout group (ModifiedScores.KeysPerDropoutGroup) ----
        int span = ModifiedScores.KeysPerDropoutGroup(tpr);
        if (dropout)
            for (int i = 0; i < tm; i++)
                for (int jFirst = 0; jFirst < tn; jFirst += span)
                {
                    int r = ty * tm + i, row = q0 + r;
                    var group = p.DropoutGroup(seq.Index, head, row, k0 + tx + jFirst * tpr);
                    for (int jj = 0; jj < span; jj++)
                    {
                        int c = tx + (jFirst + jj) * tpr, key = k0 + c;
                        bool keep = ModifiedScores.Kept(group, Dropout.IndexInGroup(row, key), row < seq.QueryLength && key < seq.KeyLength, p);
                        pTile[r * bc + c] = keep ? pTile[r * bc + c] * p.DropoutScale : 0f;
                    }
                }
        Group.Barrier();

        // ---- O += P V ----
        TileMath.MultiplyAB(pTile, bc, vTile, stride, bc, acc, ty * tm, tm, tx, tpr, td);
        Group.Barrier();
    }
}
