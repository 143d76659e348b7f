namespace FlashAttn.Kernels;

/// <summary>
/// The tile of <see cref="FlashForwardTiledKernel"/>, the forward fast path for d ≤ 128 with d % 4 == 0
/// (see <see cref="AttentionTileConfig"/> for the general kernels' tiles).
/// </summary>
/// <remarks>
/// Br = Bc = 64, 128 threads as 8 row groups × 16 column threads. Thread (ty, tx) owns query rows ty + 8i
/// (i &lt; 8), keys tx + 16j (j &lt; 4) of S and head-dim chunks of four columns tx + 16c of O. Shared tiles are fp32:
/// Q (64 × d'), K (64 × (d' + 4): the 4-float pad makes the 8 keys of a quarter warp hit 8 different bank groups),
/// V (64 × d') and P (64 × 64), with d' = <see cref="PaddedHeadDim"/>(d). At d' = 128 that is 113 KB: two groups
/// fit one multiprocessor (228 KB, 1 KB reserved per group).
/// </remarks>
public static class ForwardRegisterTile
{
    /// <summary>Br: query rows per group.</summary>
    public const int BlockRows = 64;

    /// <summary>Bc: keys per K/V tile.</summary>
    public const int BlockCols = 64;

    /// <summary>Threads per group.</summary>
    public const int Threads = 128;

    /// <summary>Threads that share a row (consecutive lanes).</summary>
    public const int ColumnThreads = 16;

    /// <summary>Row groups: Threads / ColumnThreads.</summary>
    public const int RowThreads = Threads / ColumnThreads;

    /// <summary>Query rows per thread.</summary>
    public const int RowsPerThread = BlockRows / RowThreads;

    /// <summary>Keys of S per thread.</summary>
    public const int KeysPerThread = BlockCols / ColumnThreads;

    /// <summary>
    /// Steps per iteration of the rolled products (<see cref="RegisterTileMath"/>) at padded head dim
    /// <paramref name="paddedHeadDim"/>: S = Q Kᵀ (32 chunks of 4 head-dim columns at d' = 128; unrolled at d' = 64) and
    /// O += P V (16 steps of 4 keys). Two-step bodies at d' = 128 were 1–3% faster than four (H100, 2026-11-21) and
    /// 4% slower at d' = 64, where four stay.
    /// </summary>
    internal static int ScoreStepsPerIteration(int paddedHeadDim) => paddedHeadDim > 64 ? 2 : RegisterTileMath.Unrolled;

    /// <inheritdoc cref="ScoreStepsPerIteration"/>
    internal static int ValueStepsPerIteration(int paddedHeadDim) => paddedHeadDim > 64 ? 2 : 4;

    /// <summary>True for the head dims this tile handles: 4 ≤ d ≤ 128, d % 4 == 0 (16-byte chunks).</summary>
    public static bool Supports(int headDim) => headDim is > 0 and <= 128 && headDim % 4 == 0;

    /// <summary>d': 64 for d ≤ 64, else 128 (a multiple of 4 · ColumnThreads).</summary>
    public static int PaddedHeadDim(int headDim) => headDim <= 64 ? 64 : 128;

    /// <summary>Dynamic shared bytes at head dim <paramref name="headDim"/>.</summary>
    public static int SharedBytes(int headDim)
    {
        int d = PaddedHeadDim(headDim);
        return sizeof(float) * (BlockRows * d + BlockCols * (d + 4) + BlockCols * d + BlockRows * BlockCols);
    }
}
