using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// One thread of the register-tiled forward (<see cref="FlashForwardTiledKernel"/>): its place (ty, tx) in the
/// 8 × 16 thread grid, the padded head dim, the group's shared tiles and the thread's register arrays, handed to the
/// kernel's steps as one value (the compiler splits it back into its fields).
/// </summary>
internal readonly struct ForwardTiledState(int tx, int ty, int headDimPadded, ArrayView<float> qTile, ArrayView<float> kTile,
    ArrayView<float> vTile, ArrayView<float> pTile, ArrayView<float> scores, ArrayView<float> acc, ArrayView<float> rowMax,
    ArrayView<float> rowSum)
{
    /// <summary>Column of the thread grid: keys tx + 16j, output chunks tx + 16c.</summary>
    public readonly int Tx = tx;

    /// <summary>Row of the thread grid: query rows ty + 8i.</summary>
    public readonly int Ty = ty;

    /// <summary>d' (<see cref="ForwardRegisterTile.PaddedHeadDim"/>).</summary>
    public readonly int HeadDimPadded = headDimPadded;

    /// <summary>Shared Q_i (Br × d'), K_j (Bc × (d' + 4)), V_j (Bc × d') and P (Br × Bc) tiles.</summary>
    public readonly ArrayView<float> QTile = qTile, KTile = kTile, VTile = vTile, PTile = pTile;

    /// <summary>Registers: this thread's 8 × 4 scores, 8 × 4·<see cref="OutChunks"/> outputs, and m, ℓ of its 8 rows.</summary>
    public readonly ArrayView<float> Scores = scores, Acc = acc, RowMax = rowMax, RowSum = rowSum;

    /// <summary>Output chunks of four columns per thread: d' / 64.</summary>
    public int OutChunks => HeadDimPadded / (4 * ForwardRegisterTile.ColumnThreads);
}
