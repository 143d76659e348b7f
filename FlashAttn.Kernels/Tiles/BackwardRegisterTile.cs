namespace FlashAttn.Kernels;

/// <summary>
/// The tile of <see cref="FlashBackwardTiledKernel"/>, the dK/dV(/dQ) fast path for d ≤ 128 with d % 4 == 0.
/// </summary>
/// <remarks>
/// Br = Bc = 64, 256 threads as 16 row groups × 16 column threads. Thread (ty, tx) owns, of S/dP, query rows
/// ty + 16i × keys tx + 16j (4 × 4); of dK/dV, keys ty + 16i × head-dim chunks tx + 16c (4 × 4·d'/64); of dQ, rows
/// 4ty … 4ty+3 × the same chunks. Shared tiles are fp32: K and V (64 × (d' + 4)), Q and dO (64 × d'), Pᵀ and dSᵀ
/// (64 keys × 68: transposed so the dK/dV and dQ products read 16-byte vectors), L and D (64 each);
/// 164.5 KB at d' = 128, 100.5 KB at d' = 64.
/// </remarks>
public static class BackwardRegisterTile
{
    /// <summary>Br: query rows per Q tile.</summary>
    public const int BlockRows = 64;

    /// <summary>Bc: keys per group.</summary>
    public const int BlockCols = 64;

    /// <summary>Threads per group.</summary>
    public const int Threads = 256;

    /// <summary>Threads that share a row (consecutive lanes).</summary>
    public const int ColumnThreads = 16;

    /// <summary>Row groups: Threads / ColumnThreads.</summary>
    public const int RowThreads = Threads / ColumnThreads;

    /// <summary>Rows (of S, dP) or keys (of dK, dV) per thread.</summary>
    public const int RowsPerThread = BlockRows / RowThreads;

    /// <summary>Keys of S and dP per thread.</summary>
    public const int KeysPerThread = BlockCols / ColumnThreads;

    /// <summary>Row stride in floats of the transposed Pᵀ and dSᵀ tiles (4 floats of padding).</summary>
    public const int TransposedStride = BlockRows + 4;

    /// <summary>
    /// Steps per iteration of the four rolled products at d' = 128 (S, dP over 32 head-dim chunks; dV, dK over 16 key
    /// steps; dQ stays unrolled). 8 rather than 4: backward +1–2% at d = 128 (H100, 2026-11-21, docs/performance.md).
    /// At d' = 64 every product unrolls.
    /// </summary>
    public const int RolledSteps = 8;

    /// <summary><see cref="RegisterTileMath"/>'s steps per iteration at padded head dim <paramref name="paddedHeadDim"/>.</summary>
    internal static int StepsPerIteration(int paddedHeadDim) => paddedHeadDim > 64 ? RolledSteps : RegisterTileMath.Unrolled;

    /// <summary>d': 64 for d ≤ 64, else 128.</summary>
    public static int PaddedHeadDim(int headDim) => ForwardRegisterTile.PaddedHeadDim(headDim);

    /// <summary>Dynamic shared bytes at head dim <paramref name="headDim"/>.</summary>
    public static int SharedBytes(int headDim)
    {
        int d = PaddedHeadDim(headDim);
        return sizeof(float) * (2 * BlockCols * (d + 4) + 2 * BlockRows * d + 2 * BlockCols * TransposedStride + 2 * BlockRows);
    }
}
