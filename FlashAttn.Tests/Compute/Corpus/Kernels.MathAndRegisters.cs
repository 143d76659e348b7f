using FlashAttn.Compute;

namespace FlashAttn.Tests.Compute.Corpus;

/// <summary>Corpus kernels: math functions, register arrays, specialization, vector access.</summary>
internal static partial class Kernels
{
    public const int MathFunctionCount = 17;

    public static void MathFunctions(ArrayView<float> input, ArrayView<float> output)
    {
        int i = Grid.GlobalIndexX;
        if (i >= input.Length) return;
        float x = input[i];
        float p = XMath.Abs(x) + 0.5f;
        int o = i * MathFunctionCount;
        output[o + 0] = XMath.Exp(x);
        output[o + 1] = XMath.Log(p);
        output[o + 2] = XMath.Sqrt(p);
        output[o + 3] = XMath.Rsqrt(p);
        output[o + 4] = XMath.Tanh(x);
        output[o + 5] = XMath.Exp2(x);
        output[o + 6] = XMath.Log2(p);
        output[o + 7] = XMath.Sin(x);
        output[o + 8] = XMath.Cos(x);
        output[o + 9] = XMath.Pow(p, 1.7f);
        output[o + 10] = XMath.Fma(x, p, 0.25f);
        output[o + 11] = XMath.Floor(x * 3f) + XMath.Ceiling(x * 5f);
        output[o + 12] = XMath.Round(x * 7f) + XMath.Truncate(x * 9f);
        output[o + 13] = XMath.Max(x, 0.1f) - XMath.Min(x, -0.1f);
        output[o + 14] = XMath.CopySign(p, x);
        output[o + 15] = MathF.Exp(x) + MathF.Sqrt(p) + MathF.Max(x, 0f);
        output[o + 16] = XMath.IsNaN(XMath.Sqrt(x)) ? 1f : (XMath.IsFinite(x) ? 2f : 3f);
    }

    public const int FastMathFunctionCount = 7;

    public static void FastMath(ArrayView<float> input, ArrayView<float> output)
    {
        int i = Grid.GlobalIndexX;
        if (i >= input.Length) return;
        float x = input[i];
        float p = XMath.Abs(x) + 0.5f;
        int o = i * FastMathFunctionCount;
        output[o + 0] = XMath.FastExp2(x);
        output[o + 1] = XMath.FastExp(x);
        output[o + 2] = XMath.FastLog2(p);
        output[o + 3] = XMath.FastRsqrt(p);
        output[o + 4] = XMath.FastTanh(x);
        output[o + 5] = XMath.FastReciprocal(p);
        output[o + 6] = XMath.FastDivide(x, p);
    }

    /// <summary>XMath.SmallIntToFloat, which ALiBi's distances take: exact for |x| ≤ 2²², no conversion instruction.</summary>
    public static void SmallIntToFloat(ArrayView<int> input, ArrayView<float> output)
    {
        int i = Grid.GlobalIndexX;
        if (i >= output.Length) return;
        output[i] = XMath.SmallIntToFloat(input[i]);
    }

    public const int RegisterCount = 8;

    /// <summary>A per-thread array indexed only by unrolled loop counters: must live in registers.</summary>
    public static void RegisterArray(ArrayView<float> input, ArrayView<float> output)
    {
        int i = Grid.GlobalIndexX;
        if (i * RegisterCount >= input.Length) return;
        var r = LocalMemory.Allocate<float>(RegisterCount);
        for (int k = 0; k < RegisterCount; k++)
            r[k] = input[i * RegisterCount + k];
        for (int pass = 0; pass < 3; pass++)
            for (int k = 1; k < RegisterCount; k++)
                r[k] += r[k - 1] * 0.5f;
        for (int k = 0; k < RegisterCount; k++)
            output[i * RegisterCount + RegisterCount - 1 - k] = r[k];
    }

    /// <summary>
    /// C = A·B (row-major, n×n) with shared-memory tiles and a per-thread register block, tile sizes fixed
    /// by specialization: the same shape of code as the SGEMM benchmark and the attention kernels.
    /// Group: (tile/regs)² threads.
    /// </summary>
    public static void RegisterBlockedMatmul(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, int n,
        SpecializedValue<int> tileSize, SpecializedValue<int> registersPerThread)
    {
        int tile = tileSize.Value, regs = registersPerThread.Value;
        int threadsPerRow = tile / regs;
        var tileA = SharedMemory.Allocate<float>(tile * tile);
        var tileB = SharedMemory.Allocate<float>(tile * tile);
        var acc = LocalMemory.Allocate<float>(regs * regs);
        int tx = Group.IdxX % threadsPerRow, ty = Group.IdxX / threadsPerRow;
        int rowBase = Grid.IdxY * tile, columnBase = Grid.IdxX * tile;
        for (int k = 0; k < regs * regs; k++) acc[k] = 0f;
        for (int kTile = 0; kTile < n; kTile += tile)
        {
            for (int e = Group.IdxX; e < tile * tile; e += Group.DimX)
            {
                int r = e / tile, col = e % tile;
                tileA[e] = rowBase + r < n && kTile + col < n ? a[(rowBase + r) * n + kTile + col] : 0f;
                tileB[e] = kTile + r < n && columnBase + col < n ? b[(kTile + r) * n + columnBase + col] : 0f;
            }
            Group.Barrier();
            for (int kk = 0; kk < tile; kk++)
                for (int ri = 0; ri < regs; ri++)
                    for (int ci = 0; ci < regs; ci++)
                        acc[ri * regs + ci] += tileA[(ty * regs + ri) * tile + kk] * tileB[kk * tile + tx * regs + ci];
            Group.Barrier();
        }
        for (int ri = 0; ri < regs; ri++)
            for (int ci = 0; ci < regs; ci++)
            {
                int row = rowBase + ty * regs + ri, col = columnBase + tx * regs + ci;
                if (row < n && col < n) c[row * n + col] = acc[ri * regs + ci];
            }
    }

    /// <summary>A loop bounded by a specialized value: unrolled, and the value compiled in.</summary>
    public static void SpecializedPolynomial(ArrayView<float> x, ArrayView<float> y, SpecializedValue<int> degree)
    {
        int i = Grid.GlobalIndexX;
        if (i >= y.Length) return;
        float v = x[i], sum = 0f, power = 1f;
        for (int k = 0; k <= degree.Value; k++)
        {
            sum += power / (k + 1);
            power *= v;
        }
        y[i] = sum;
    }

    /// <summary>16-byte vector copy: one ld.global.v4.f32 / st.global.v4.f32 per element.</summary>
    public static void VectorCopy(ArrayView<Float4> input, ArrayView<Float4> output)
    {
        int i = Grid.GlobalIndexX;
        if (i < output.Length) output[i] = input[i];
    }
}
