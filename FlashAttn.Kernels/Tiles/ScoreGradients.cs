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
    /// </summary>
    public static void Compute<TMask>(BackwardSharedTiles tiles, AttentionParams p, AttentionMask mask, int q0, int k0,
        AttentionTileConfig tile, int tx, int ty, ArrayView<float> scores, ArrayView<float> dP)
        where TMask : struct, IBlockMask
    {
        ArrayView<float> qTile = tiles.Q, kTile = tiles.K, doTile = tiles.DOut, vTile = tiles.V;
        ArrayView<float> lseTile = tiles.Lse, deltaTile = tiles.Delta, pTile = tiles.P, dsTile = tiles.DS;
        int bc = tile.BlockCols, stride = tile.TileStride, tpr = tile.ThreadsPerRow;
        int tm = tile.RowsPerThread, tn = tile.KeysPerThread;
        TileMath.Fill(scores, tm * tn, 0f);
        TileMath.Fill(dP, tm * tn, 0f);
        TileMath.MultiplyABt(qTile, stride, kTile, stride, tile.HeadDimPadded, scores, ty * tm, tm, tx, tpr, tn);
        TileMath.MultiplyABt(doTile, stride, vTile, stride, tile.HeadDimPadded, dP, ty * tm, tm, tx, tpr, tn);
        for (int i = 0; i < tm; i++)
        {
            int r = ty * tm + i;
            float lseLog2 = lseTile[r], d = deltaTile[r];
            for (int j = 0; j < tn; j++)
            {
                int c = tx + j * tpr;
                float pij = Probability<TMask>(scores[i * tn + j], lseLog2, p, mask, q0 + r, k0 + c);
                pTile[r * bc + c] = pij;
                dsTile[r * bc + c] = pij * (dP[i * tn + j] - d);
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
    private static void StoreTransposed<TMask>(ArrayView<float> scores, ArrayView<float> dP, ArrayView<float> lseTile,
        ArrayView<float> deltaTile, AttentionParams p, AttentionMask mask, int q0, int k0, int tx, int ty, ArrayView<float> pT, ArrayView<float> dsT)
        where TMask : struct, IBlockMask
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
                float pij = Probability<TMask>(scores[i * keys + j], lseLog2, p, mask, q0 + r, k0 + c);
                pT[c * BackwardRegisterTile.TransposedStride + r] = pij;
                dsT[c * BackwardRegisterTile.TransposedStride + r] = pij * (dP[i * keys + j] - d);
            }
        }
    }

    /// <summary>P = exp2(s·scale·log2 e − L·log2 e), 0 where the mask hides the key.</summary>
    private static float Probability<TMask>(float score, float lseLog2, AttentionParams p, AttentionMask mask, int row, int key)
        where TMask : struct, IBlockMask
    {
        float pij = XMath.FastExp2(score * p.ScaleLog2 - lseLog2);
        return TMask.Enabled && !mask.Visible(row, key) ? 0f : pij;
    }
}
