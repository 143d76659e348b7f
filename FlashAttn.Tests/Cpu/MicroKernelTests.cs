using System.Runtime.Intrinsics;
using FlashAttn.Cpu;
using FlashAttn.Cpu.Simd;

namespace FlashAttn.Tests.Cpu;

/// <summary>The CPU path's register-blocked product at every width the machine has, against a plain fp64 loop: C = A·B and
/// C = diag(s)·C + A·B, with A given row-major and transposed (the forward's P·V reads P from Pᵀ), leading dimensions
/// wider than the operands and k not a multiple of anything.</summary>
public unsafe class MicroKernelTests
{
    private static void Check<TOps, TVector>(bool transposedA, bool accumulate) where TOps : struct, ISimd<TVector> where TVector : struct
    {
        const int m = 16, n = 64, k = 37, lda = 45, ldb = 70, ldc = 80;
        var random = new Random(TOps.Count + (transposedA ? 1 : 0) + (accumulate ? 2 : 0));
        float Next() => (float)(random.NextDouble() * 2 - 1);
        // A is m × k; stored transposed it is k rows of lda ≥ m
        var a = new float[(transposedA ? k : m) * lda];
        var b = new float[k * ldb];
        var c = new float[m * ldc];
        var scale = new float[m];
        for (int i = 0; i < a.Length; i++) a[i] = Next();
        for (int i = 0; i < b.Length; i++) b[i] = Next();
        for (int i = 0; i < c.Length; i++) c[i] = Next();
        for (int i = 0; i < m; i++) scale[i] = Next();
        float A(int r, int x) => transposedA ? a[x * lda + r] : a[r * lda + x];
        var expected = new double[m * n];
        for (int r = 0; r < m; r++)
            for (int col = 0; col < n; col++)
            {
                double sum = accumulate ? (double)scale[r] * c[r * ldc + col] : 0;
                for (int x = 0; x < k; x++) sum += (double)A(r, x) * b[x * ldb + col];
                expected[r * n + col] = sum;
            }
        fixed (float* pa = a, pb = b, pc = c, ps = scale)
            MicroKernel.Multiply<TOps, TVector>(pa, lda, pb, ldb, pc, ldc, m, n, k, accumulate, accumulate ? ps : null, transposedA);
        Assert.Multiple(() =>
        {
            for (int r = 0; r < m; r++)
                for (int col = 0; col < n; col++)
                    Assert.That(c[r * ldc + col], Is.EqualTo(expected[r * n + col]).Within(1e-4), $"({r}, {col})");
        });
    }

    [TestCase(false, false), TestCase(true, false), TestCase(false, true), TestCase(true, true)]
    public void MatchesAPlainLoopAtEveryWidth(bool transposedA, bool accumulate)
    {
        Check<Simd128, Vector128<float>>(transposedA, accumulate);
        if (Vector256.IsHardwareAccelerated) Check<Simd256, Vector256<float>>(transposedA, accumulate);
        if (Vector512.IsHardwareAccelerated) Check<Simd512, Vector512<float>>(transposedA, accumulate);
    }
}
