using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
namespace FlashAttn.Cpu;

/// <summary>
/// Transposes of fp32 matrices into the packs. A transposed pack is stored block by block, each 64-row block of the
/// source a (d_pad × 64) row-major matrix: a row of Kᵀ spanning all of s_k would put the 64 rows a micro-kernel walks
/// 4·s_k bytes apart, which for power-of-two lengths maps them all to one L1 set.
/// </summary>
internal static unsafe class Transpose
{
    private const int Tile = 16;

    /// <summary>destination[c, r] = source[r, c] for r &lt; rows, c &lt; cols: 8 × 8 squares by AVX shuffles where the CPU has
    /// them (the packs' transposes were a scalar load and store per element, most of a key block's packing), the edges and
    /// other CPUs element by element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // O(s·d) per head: no tier-0 code
    public static void Copy(float* source, int sourceStride, int rows, int cols, float* destination, int destinationStride)
    {
        int squareRows = Avx.IsSupported ? rows & ~7 : 0, squareCols = Avx.IsSupported ? cols & ~7 : 0;
        for (int r0 = 0; r0 < squareRows; r0 += 8)
            for (int c0 = 0; c0 < squareCols; c0 += 8)
                Square(source + (long)r0 * sourceStride + c0, sourceStride, destination + (long)c0 * destinationStride + r0, destinationStride);
        // what the squares leave: the columns past them on every row, then the rows past them
        Elements(source, sourceStride, 0, rows, squareCols, cols, destination, destinationStride);
        Elements(source, sourceStride, squareRows, rows, 0, squareCols, destination, destinationStride);
    }

    /// <summary>The 8 × 8 square at <paramref name="source"/> transposed to <paramref name="destination"/>: rows paired by
    /// unpacks, quads by shuffles, halves by 128-bit permutes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Square(float* source, long sourceStride, float* destination, long destinationStride)
    {
        var r0 = Avx.LoadVector256(source);
        var r1 = Avx.LoadVector256(source + sourceStride);
        var r2 = Avx.LoadVector256(source + 2 * sourceStride);
        var r3 = Avx.LoadVector256(source + 3 * sourceStride);
        var r4 = Avx.LoadVector256(source + 4 * sourceStride);
        var r5 = Avx.LoadVector256(source + 5 * sourceStride);
        var r6 = Avx.LoadVector256(source + 6 * sourceStride);
        var r7 = Avx.LoadVector256(source + 7 * sourceStride);
        // (a00 a10 a01 a11 | a04 a14 a05 a15), (a02 a12 a03 a13 | a06 a16 a07 a17), … for each pair of rows
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        // (a00 a10 a20 a30 | a04 a14 a24 a34), … : columns c and c + 4 of four rows
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(destination, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(destination + destinationStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(destination + 2 * destinationStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(destination + 3 * destinationStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(destination + 4 * destinationStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(destination + 5 * destinationStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(destination + 6 * destinationStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(destination + 7 * destinationStride, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>destination[c, r] = source[r, c] for r in [<paramref name="rowStart"/>, <paramref name="rowEnd"/>), c in
    /// [<paramref name="colStart"/>, <paramref name="colEnd"/>), in 16 × 16 tiles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Elements(float* source, int sourceStride, int rowStart, int rowEnd, int colStart, int colEnd,
        float* destination, int destinationStride)
    {
        for (int r0 = rowStart; r0 < rowEnd; r0 += Tile)
            for (int c0 = colStart; c0 < colEnd; c0 += Tile)
            {
                int r1 = Math.Min(rowEnd, r0 + Tile), c1 = Math.Min(colEnd, c0 + Tile);
                for (int c = c0; c < c1; c++)
                    for (int r = r0; r < r1; r++)
                        destination[(long)c * destinationStride + r] = source[(long)r * sourceStride + c];
            }
    }
}
