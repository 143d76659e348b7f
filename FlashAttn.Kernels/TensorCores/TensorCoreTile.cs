namespace FlashAttn.Kernels;

/// <summary>
/// Tile shape of the tensor-core kernels, per head dim: the one place it is chosen. Built inside the kernels from
/// their specialized parameters, so every size below is a compile-time constant there.
/// </summary>
/// <remarks>
/// Each warp owns 16 query rows (forward) or 16 keys (backward) of the block: the m of mma.m16n8k16. Shared tiles hold
/// 16-bit elements, rows padded by 8 elements (16 bytes) so the eight row addresses of an ldmatrix fall in eight
/// different 4-bank groups (row stride ≡ 16 bytes mod 128): conflict-free without an XOR swizzle, for every d'.
/// </remarks>
public readonly struct TensorCoreTile(int headDimPadded, int warps)
{
    /// <summary>Elements of one 16-byte cp.async chunk and of the row padding.</summary>
    public const int ChunkElements = 8;

    /// <summary>d rounded up to a multiple of 16 (the k of one mma; ldmatrix.x4 covers 16 columns).</summary>
    public int HeadDimPadded { get; } = headDimPadded;

    /// <summary>Warps per group.</summary>
    public int Warps { get; } = warps;

    /// <summary>Threads per group.</summary>
    public int Threads => 32 * Warps;

    /// <summary>Br: query rows per forward block, 16 per warp.</summary>
    public int BlockRows => 16 * Warps;

    /// <summary>Bc: keys per forward block.</summary>
    public int BlockCols => 64;

    /// <summary>Elements per shared row.</summary>
    public int Stride => HeadDimPadded + ChunkElements;

    /// <summary>Q fragments live in registers for the whole K/V loop (d' ≤ 128); larger d' reloads them from shared.</summary>
    public bool QueryInRegisters => HeadDimPadded <= 128;

    /// <summary>Forward shared bytes: Q (Br rows), K and V (Bc rows each), 16-bit elements.</summary>
    public int ForwardSharedBytes => (BlockRows + 2 * BlockCols) * Stride * 2;

    /// <summary>Backward: Bc keys per block, 16 per warp.</summary>
    public int BackwardBlockCols => 16 * Warps;

    /// <summary>Backward: Br query rows per block (the n of S = K Qᵀ per warp).</summary>
    public int BackwardBlockRows => 64;

    /// <summary>Backward: dK/dV column groups per key block (two above d' = 128, where 16 keys × d' of dK and dV would
    /// not fit the registers); each group recomputes S and dP and owns its columns of dK, dV and dQ.</summary>
    public int ColumnSplits => HeadDimPadded > 128 ? 2 : 1;

    /// <summary>Backward: head-dim columns of dK, dV and dQ one group accumulates.</summary>
    public int SplitColumns => HeadDimPadded / ColumnSplits;

    /// <summary>Backward shared bytes: K, V (Bc rows), Q, dO (Br rows), dSᵀ (Bc × Br), L and D (Br floats each).</summary>
    public int BackwardSharedBytes => (2 * BackwardBlockCols + 2 * BackwardBlockRows) * Stride * 2
        + BackwardBlockCols * (BackwardBlockRows + ChunkElements) * 2 + 2 * BackwardBlockRows * sizeof(float);

    /// <summary>The backward tile for head dim <paramref name="headDim"/>: d' a multiple of 32 above 128, so each column
    /// group is a multiple of 16.</summary>
    public static TensorCoreTile ForBackward(int headDim)
        => new(headDim > 128 ? (headDim + 31) / 32 * 32 : PaddedHeadDim(headDim), 4);

    /// <summary>The forward tile for head dim <paramref name="headDim"/> (1…256).</summary>
    public static TensorCoreTile ForForward(int headDim) => new(PaddedHeadDim(headDim), 4);

    /// <summary>d rounded up to a multiple of 16.</summary>
    public static int PaddedHeadDim(int headDim) => (headDim + 15) / 16 * 16;
}
