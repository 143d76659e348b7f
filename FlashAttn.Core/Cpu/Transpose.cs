namespace FlashAttn.Cpu;

/// <summary>Out-of-place transpose of an fp32 matrix, in 16 × 16 tiles so both sides touch whole cache lines.</summary>
internal static unsafe class Transpose
{
    private const int Tile = 16;

    /// <summary>destination[c, r] = source[r, c] for r &lt; rows, c &lt; cols.</summary>
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
