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
    /// <paramref name="lseTile"/> holds L·log2 e per row (+∞ for padding rows), <paramref name="deltaTile"/> D.
    /// </summary>
    public static void Compute<TMask>(ArrayView<float> qTile, ArrayView<float> kTile, ArrayView<float> doTile,
        ArrayView<float> vTile, ArrayView<float> lseTile, ArrayView<float> deltaTile, AttentionParams p, int q0, int k0,
        bool isCausal, AttentionTileConfig tile, int tx, int ty,
        ArrayView<float> scores, ArrayView<float> dP, ArrayView<float> pTile, ArrayView<float> dsTile)
        where TMask : struct, IBlockMask
    {
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
                float pij = XMath.FastExp2(scores[i * tn + j] * p.ScaleLog2 - lseLog2);
                if (TMask.Enabled && !p.Visible(q0 + r, k0 + c, isCausal)) pij = 0f;
                pTile[r * bc + c] = pij;
                dsTile[r * bc + c] = pij * (dP[i * tn + j] - d);
            }
        }
    }
}
