using System.Runtime.CompilerServices;
using FlashAttn.Cpu.Simd;

namespace FlashAttn.Cpu;

/// <summary>
/// The register-blocked matrix product every step of the CPU path is made of: C (m × n) = or += A (m × k) · B (k × n),
/// all row-major fp32 with leading dimensions. A tile of <see cref="Rows"/> rows × 2 vectors of C lives in 8
/// registers for the whole k loop; each step broadcasts one A element per row and loads two B vectors (8 FMAs per
/// 2 loads + 4 broadcasts), which keeps both FMA pipes busy and fits AVX2's 16 registers as well as AVX-512's 32.
/// </summary>
internal static unsafe class MicroKernel
{
    /// <summary>C rows per register tile; m must be a multiple of it.</summary>
    public const int Rows = 4;

    /// <summary>Vectors per register tile row; n must be a multiple of this times the vector width.</summary>
    public const int Vectors = 2;

    /// <summary>
    /// C = A·B (or C += A·B with <paramref name="accumulate"/>). m is a multiple of <see cref="Rows"/>, n of
    /// <see cref="Vectors"/> · TOps.Count; k is any length.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply<TOps, TVector>(float* a, int lda, float* b, int ldb, float* c, int ldc,
        int m, int n, int k, bool accumulate) where TOps : struct, ISimd<TVector> where TVector : struct
    {
        int w = TOps.Count;
        for (int i = 0; i < m; i += Rows)
        {
            float* a0 = a + (long)i * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
            float* c0 = c + (long)i * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
            for (int j = 0; j < n; j += Vectors * w)
            {
                TVector c00, c01, c10, c11, c20, c21, c30, c31;
                if (accumulate)
                {
                    c00 = TOps.Load(c0 + j); c01 = TOps.Load(c0 + j + w);
                    c10 = TOps.Load(c1 + j); c11 = TOps.Load(c1 + j + w);
                    c20 = TOps.Load(c2 + j); c21 = TOps.Load(c2 + j + w);
                    c30 = TOps.Load(c3 + j); c31 = TOps.Load(c3 + j + w);
                }
                else
                {
                    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = default;
                }
                float* bx = b + j;
                for (int x = 0; x < k; x++, bx += ldb)
                {
                    var b0 = TOps.Load(bx);
                    var b1 = TOps.Load(bx + w);
                    var s = TOps.Broadcast(a0[x]);
                    c00 = TOps.MultiplyAdd(s, b0, c00);
                    c01 = TOps.MultiplyAdd(s, b1, c01);
                    s = TOps.Broadcast(a1[x]);
                    c10 = TOps.MultiplyAdd(s, b0, c10);
                    c11 = TOps.MultiplyAdd(s, b1, c11);
                    s = TOps.Broadcast(a2[x]);
                    c20 = TOps.MultiplyAdd(s, b0, c20);
                    c21 = TOps.MultiplyAdd(s, b1, c21);
                    s = TOps.Broadcast(a3[x]);
                    c30 = TOps.MultiplyAdd(s, b0, c30);
                    c31 = TOps.MultiplyAdd(s, b1, c31);
                }
                TOps.Store(c0 + j, c00); TOps.Store(c0 + j + w, c01);
                TOps.Store(c1 + j, c10); TOps.Store(c1 + j + w, c11);
                TOps.Store(c2 + j, c20); TOps.Store(c2 + j + w, c21);
                TOps.Store(c3 + j, c30); TOps.Store(c3 + j + w, c31);
            }
        }
    }
}
