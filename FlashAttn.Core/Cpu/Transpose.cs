using System.Runtime.CompilerServices;
namespace FlashAttn.Cpu;

/// <summary>
/// Transposes of fp32 matrices into the packs. A transposed pack is stored block by block (<see cref="ToBlocks"/>):
/// a row of Kᵀ spanning all of s_k would put the 64 rows a micro-kernel walks 4·s_k bytes apart, which for
/// power-of-two lengths maps them all to one L1 set.
/// </summary>
internal static unsafe class Transpose
{
    private const int Tile = 16;

    /// <summary>
    /// destination[r / Block][c, r % Block] = source[r, c] for r &lt; rows, c &lt; cols: each block of
    /// <see cref="CpuAttentionLayout.Block"/> rows becomes a (<paramref name="blockRows"/> × Block) row-major matrix.
    /// </summary>
    public static void ToBlocks(float* source, int sourceStride, int rows, int cols, float* destination, int blockRows)
    {
        const int block = CpuAttentionLayout.Block;
        for (int r0 = 0; r0 < rows; r0 += block)
            Copy(source + (long)r0 * sourceStride, sourceStride, Math.Min(block, rows - r0), cols,
                destination + (long)r0 * blockRows, block);
    }

    /// <summary>destination[c, r] = source[r, c] for r &lt; rows, c &lt; cols.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // O(s·d) scalar loops: no tier-0 code
    public static void Copy(float* source, int sourceStride, int rows, int cols, float* destination, int destinationStride)
    {
        for (int r0 = 0; r0 < rows; r0 += Tile)
            for (int c0 = 0; c0 < cols; c0 += Tile)
            {
                int r1 = Math.Min(rows, r0 + Tile), c1 = Math.Min(cols, c0 + Tile);
                for (int c = c0; c < c1; c++)
                    for (int r = r0; r < r1; r++)
                        destination[(long)c * destinationStride + r] = source[(long)r * sourceStride + c];
            }
    }
}
