using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// The part of the backward shared by the dK/dV and dQ kernels: for one (Q tile, K tile) pair staged in
/// shared memory, recompute P from the saved L and form dS; both are left in shared tiles (Br × Bc).
/// </summary>
internal static class ScoreGradients
{
    /// <summary>
    /// P = exp2(Q Kᵀ · scale·log2 e − L·log2 e) (0 where masked), dP = dO Vᵀ, dS = P ∘ (dP − D).
    /// <c>tiles.Lse</c> holds L·log2 e per row (+∞ for padding rows), <c>tiles.Delta</c> D; P and dS go to <c>tiles.P</c>, <c>tiles.DS</c>.
    /// Modifiers (<paramref name="modifierFlags"/>) as the tensor-core backward: P from f(s) and the mask modifier
    /// (<see cref="ModifiedScores.Log2Score"/>), dS · f'(s); with dropout <c>tiles.P</c> takes the kept P and dS the kept dP,
    /// both scaled by 1/(1 − p) (the forward's mask, regenerated). Rows q0… and keys k0… are positions in sequence
    /// <paramref name="seq"/>, query head <paramref name="head"/>.
    /// </summary>
    public static void Compute<TBlock, TScore, TMask>(BackwardSharedTiles tiles, AttentionParams p, AttentionMask mask, SequenceBounds seq, int head,
        AttentionModifiers<TScore, TMask> modifiers, int modifierFlags, int q0, int k0, AttentionTileConfig tile, int tx, int ty,
        ArrayView<float> scores, ArrayView<float> dP)
        where TBlock : struct, IBlockMask where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        bool scoreModified = (modifierFlags & AttentionModifiers<TScore, TMask>.ScoreFlag) != 0;
        bool maskModified = (modifierFlags & AttentionModifiers<TScore, TMask>.MaskFlag) != 0;
        bool dropout = (modifierFlags & AttentionModifiers<TScore, TMask>.DropoutFlag) != 0;
        ArrayView<float> qTile = tiles.Q, kTile = tiles.K, doTile = tiles.DOut, vTile = tiles.V;
        ArrayView<float> lseTile = tiles.Lse, deltaTile = tiles.Delta, pTile = tiles.P, dsTile = tiles.DS;
        int bc = tile.BlockCols, stride = tile.TileStride, tpr = tile.ThreadsPerRow;
        int tm = tile.RowsPerThread, tn = tile.KeysPerThread, span = ModifiedScores.KeysPerDropoutGroup(tpr);
        TileMath.Fill(scores, tm * tn, 0f);
        TileMath.Fill(dP, tm * tn, 0f);
        TileMath.MultiplyABt(qTile, stride, kTile, stride, tile.HeadDimPadded, scores, ty * tm, tm, tx, tpr, tn);
        TileMath.MultiplyABt(doTile, stride, vTile, stride, tile.HeadDimPadded, dP, ty * tm, tm, tx, tpr, tn);
        for (int i = 0; i < tm; i++)
        {
            int r = ty * tm + i;
            float lseLog2 = lseTile[r], d = deltaTile[r];
            // keys in runs that share one dropout group: one Philox call per run (ModifiedScores.KeysPerDropoutGroup)
            for (int jFirst = 0; jFirst < tn; jFirst += span)
            {
                var group = dropout ? p.DropoutGroup(seq.Index, head, q0 + r, k0 + tx + jFirst * tpr) : default;
                for (int jj = 0; jj < span; jj++)
                {
                    int j = jFirst + jj, c = tx + j * tpr, row = q0 + r, key = k0 + c;
                    var at = ModifiedScores.Position(seq.Index, head, row, key, mask.Offset, seq.QueryLength, seq.KeyLength);
                    bool inside = (row < seq.QueryLength) & (key < seq.KeyLength);
                    float raw = scores[i * tn + j], dpij = dP[i * tn + j];
                    float pij = Probability<TBlock>(ModifiedScores.Log2Score(raw, at, inside, false, p, modifiers, scoreModified, maskModified),
                        lseLog2, mask, row, key), kept = pij;
                    if (dropout)
                    {
                        bool keep = ModifiedScores.Kept(group, Dropout.IndexInGroup(row, key), inside, p);
                        kept = keep ? pij * p.DropoutScale : 0f;
                        dpij = keep ? dpij * p.DropoutScale : 0f;
                    }
                    pTile[r * bc + c] = kept;
                    dsTile[r * bc + c] = pij * (dpij - d) * ModifiedScores.Derivative(raw, at, inside, p, modifiers, scoreModified);
                }
            }
        }
    }

    /// <summary>
    /// The register-tiled form (<see cref="BackwardRegisterTile"/>): this thread's rows ty + 16i × keys tx + 16j of
    /// S = Q Kᵀ and dP = dO Vᵀ from 16-byte shared loads; P and dS = P ∘ (dP − D) are stored transposed
    /// (<c>tiles.P</c>[key][row], row stride <see cref="BackwardRegisterTile.TransposedStride"/>; tiles carved by
    /// <see cref="BackwardSharedTiles.CarveTransposed"/>). The products exist once in
    /// the code; only the element-wise part is specialised on <paramref name="masked"/> (run-time branch), so the
    /// kernel does not carry two copies of them.
    /// </summary>
    public static void ComputeTransposed(BackwardSharedTiles tiles, AttentionParams p, AttentionMask mask, int q0, int k0,
        bool masked, int dPad, int tx, int ty)
    {
        ArrayView<float> qTile = tiles.Q, kTile = tiles.K, doTile = tiles.DOut, vTile = tiles.V;
        ArrayView<float> lseTile = tiles.Lse, deltaTile = tiles.Delta, pT = tiles.P, dsT = tiles.DS;
        const int rows = BackwardRegisterTile.RowsPerThread, keys = BackwardRegisterTile.KeysPerThread;
        const int rowStep = BackwardRegisterTile.RowThreads, keyStep = BackwardRegisterTile.ColumnThreads;
        var scores = LocalMemory.Allocate<float>(rows * keys);
        var dP = LocalMemory.Allocate<float>(rows * keys);
        TileMath.Fill(scores, rows * keys, 0f);
        TileMath.Fill(dP, rows * keys, 0f);
        RegisterTileMath.MultiplyABt(qTile.Cast<Float4>(), dPad / 4, ty, rowStep, rows,
            kTile.Cast<Float4>(), (dPad + 4) / 4, tx, keyStep, keys, dPad / 4, scores, BackwardRegisterTile.StepsPerIteration(dPad));
        RegisterTileMath.MultiplyABt(doTile.Cast<Float4>(), dPad / 4, ty, rowStep, rows,
            vTile.Cast<Float4>(), (dPad + 4) / 4, tx, keyStep, keys, dPad / 4, dP, BackwardRegisterTile.StepsPerIteration(dPad));
        if (masked)
            StoreTransposed<MaskedBlock>(scores, dP, lseTile, deltaTile, p, mask, q0, k0, tx, ty, pT, dsT);
        else
            StoreTransposed<FullBlock>(scores, dP, lseTile, deltaTile, p, mask, q0, k0, tx, ty, pT, dsT);
    }

    /// <summary>P and dS = P ∘ (dP − D) of this thread's 4 × 4 block into the transposed tiles.</summary>
    private static void StoreTransposed<TBlock>(ArrayView<float> scores, ArrayView<float> dP, ArrayView<float> lseTile,
        ArrayView<float> deltaTile, AttentionParams p, AttentionMask mask, int q0, int k0, int tx, int ty, ArrayView<float> pT, ArrayView<float> dsT)
        where TBlock : struct, IBlockMask
    {
        const int rows = BackwardRegisterTile.RowsPerThread, keys = BackwardRegisterTile.KeysPerThread;
        const int rowStep = BackwardRegisterTile.RowThreads, keyStep = BackwardRegisterTile.ColumnThreads;
        for (int i = 0; i < rows; i++)
        {
            int r = ty + i * rowStep;
            float lseLog2 = lseTile[r], d = deltaTile[r];
            for (int j = 0; j < keys; j++)
            {
                int c = tx + j * keyStep;
                float pij = Probability<TBlock>(scores[i * keys + j] * p.ScaleLog2, lseLog2, mask, q0 + r, k0 + c);
                pT[c * BackwardRegisterTile.TransposedStride + r] = pij;
                dsT[c * BackwardRegisterTile.TransposedStride + r] = pij * (dP[i * keys + j] - d);
            }
        }
    }

    /// <summary>P = exp2(S − L·log2 e) of a log2-domain score S, 0 where the causal or window mask hides the key (a mask
    /// modifier's hidden keys come as S = −∞).</summary>
    private static float Probability<TBlock>(float log2Score, float lseLog2, AttentionMask mask, int row, int key)
        where TBlock : struct, IBlockMask
    {
        float pij = XMath.FastExp2(log2Score - lseLog2);
        return TBlock.Enabled && !mask.Visible(row, key) ? 0f : pij;
    }
}
