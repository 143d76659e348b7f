namespace FlashAttn.Kernels;

/// <summary>
/// The tile shape of the attention kernels, the ONE place tile sizes are chosen (per head dim, dtype and
/// direction). The same struct is built inside the kernels from their <c>SpecializedValue</c> parameters,
/// so every derived size below is a compile-time constant there.
/// </summary>
/// <remarks>
/// Thread layout (SIMT, no tensor cores): the group's <see cref="Threads"/> form a
/// <see cref="RowThreads"/> × <see cref="ThreadsPerRow"/> grid; thread (ty, tx) owns rows
/// ty·<see cref="RowsPerThread"/> + i of a score block and its columns tx + j·<see cref="ThreadsPerRow"/>
/// (strided, so the threads of a row read consecutive shared addresses). The <see cref="ThreadsPerRow"/>
/// threads of one row are consecutive lanes of one warp, so row max and row sum are warp butterflies.
/// Shared tiles hold fp32 (inputs are widened once when staged), with a row stride of
/// <see cref="HeadDimPadded"/> + 1 floats so column walks over K do not hit one bank.
/// </remarks>
public readonly struct AttentionTileConfig
{
    /// <summary>Opt-in shared memory per group on sm_90 (and what the CPU accelerator reports): 227 KB.</summary>
    public const int MaxSharedBytes = 227 * 1024;

    /// <summary>Most threads per group.</summary>
    public const int MaxThreads = 1024;

    /// <summary>Largest supported head dimension.</summary>
    public const int MaxHeadDim = 256;

    /// <summary>Creates a tile shape; <paramref name="threads"/>/<paramref name="threadsPerRow"/> must divide both block sizes.</summary>
    public AttentionTileConfig(int blockRows, int blockCols, int threads, int threadsPerRow, int headDimPadded)
    {
        BlockRows = blockRows;
        BlockCols = blockCols;
        Threads = threads;
        ThreadsPerRow = threadsPerRow;
        HeadDimPadded = headDimPadded;
    }

    /// <summary>Br: query rows per tile.</summary>
    public int BlockRows { get; }

    /// <summary>Bc: keys per tile.</summary>
    public int BlockCols { get; }

    /// <summary>Threads per group.</summary>
    public int Threads { get; }

    /// <summary>Threads sharing one row of a block (a power of two ≤ 32: consecutive lanes of one warp).</summary>
    public int ThreadsPerRow { get; }

    /// <summary>d rounded up to a multiple of <see cref="ThreadsPerRow"/>; the padding columns are zero.</summary>
    public int HeadDimPadded { get; }

    /// <summary>Rows of the thread grid: Threads / ThreadsPerRow.</summary>
    public int RowThreads => Threads / ThreadsPerRow;

    /// <summary>Query rows each thread owns (of S, P, O, dQ): Br / RowThreads.</summary>
    public int RowsPerThread => BlockRows / RowThreads;

    /// <summary>Key columns of S each thread owns: Bc / ThreadsPerRow.</summary>
    public int KeysPerThread => BlockCols / ThreadsPerRow;

    /// <summary>Key rows of dK/dV each thread owns (backward): Bc / RowThreads.</summary>
    public int KeyRowsPerThread => BlockCols / RowThreads;

    /// <summary>Head-dim columns each thread owns (of O, dQ, dK, dV): HeadDimPadded / ThreadsPerRow.</summary>
    public int HeadColsPerThread => HeadDimPadded / ThreadsPerRow;

    /// <summary>Row stride in floats of a shared Q/K/V/dO tile: one padding float against bank conflicts.</summary>
    public int TileStride => HeadDimPadded + 1;

    /// <summary>Forward shared floats: Q (Br), K and V (Bc each) tiles, and P (Br × Bc).</summary>
    public int ForwardSharedFloats => (BlockRows + 2 * BlockCols) * TileStride + BlockRows * BlockCols;

    /// <summary>Backward shared floats (dK/dV and dQ kernels): Q, dO, K, V tiles, P and dS (Br × Bc), L and D rows.</summary>
    public int BackwardSharedFloats => 2 * (BlockRows + BlockCols) * TileStride + 2 * BlockRows * BlockCols + 2 * BlockRows;

    /// <summary>Dynamic shared bytes of the forward kernel.</summary>
    public int ForwardSharedBytes => ForwardSharedFloats * sizeof(float);

    /// <summary>Dynamic shared bytes of the backward kernels.</summary>
    public int BackwardSharedBytes => BackwardSharedFloats * sizeof(float);

    /// <summary>
    /// The forward tile for <paramref name="headDim"/>. Tiles stage fp32, so the storage dtype
    /// (<paramref name="elementBytes"/>) does not change the SIMT shape today; a tensor-core variant would.
    /// d ≤ 128: Br = Bc = 64, 128 threads as 16 × 8 (4 × 8 scores and ≤ 4 × 16 outputs per thread; 112 KB at d = 128).
    /// d ≤ 256: Br = Bc = 32, 128 threads as 8 × 16 (4 × 2 scores, ≤ 4 × 16 outputs; 102 KB at d = 256).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">d outside 1…256.</exception>
    public static AttentionTileConfig ForForward(int headDim, int elementBytes)
    {
        _ = elementBytes;
        ArgumentOutOfRangeException.ThrowIfLessThan(headDim, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(headDim, MaxHeadDim);
        return headDim <= 128
            ? new AttentionTileConfig(64, 64, 128, 8, RoundUp(headDim, 8))
            : new AttentionTileConfig(32, 32, 128, 16, RoundUp(headDim, 16));
    }

    /// <summary>
    /// The backward tile (dK/dV and dQ kernels). Same shapes as the forward; shared use is
    /// 2(Br + Bc)(d + 1) + 2·Br·Bc + 2·Br floats: 164 KB at d = 128, 140 KB at d = 256.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">d outside 1…256.</exception>
    public static AttentionTileConfig ForBackward(int headDim, int elementBytes) => ForForward(headDim, elementBytes);

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;
}
