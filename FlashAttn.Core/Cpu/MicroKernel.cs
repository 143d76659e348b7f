using System.Runtime.CompilerServices;
using FlashAttn.Cpu.Simd;

namespace FlashAttn.Cpu;

/// <summary>
/// The register-blocked matrix product every step of the CPU path is made of: C (m × n) = or += A (m × k) · B (k × n),
/// all row-major fp32 with leading dimensions. A tile of TOps.TileRows rows × 2 vectors of C lives in registers for the
/// whole k loop; each step loads two B vectors and broadcasts one A element per row. With 8 rows (AVX-512: 16
/// accumulators of 32 registers) that is 16 FMAs per 10 loads, enough independent chains to cover FMA latency on two
/// 512-bit pipes; with 4 rows (AVX2, 128-bit: 8 accumulators) it still fits 16 registers.
/// </summary>
internal static unsafe class MicroKernel
{
    /// <summary>The most rows a register tile has; m must be a multiple of TOps.TileRows (every m here is of this).</summary>
    public const int MaxRows = 8;

    /// <summary>Vectors per register tile row; n must be a multiple of this times the vector width.</summary>
    public const int Vectors = 2;

    /// <summary>
    /// C = A·B (or C += A·B with <paramref name="accumulate"/>). m is a multiple of TOps.TileRows, n of
    /// <see cref="Vectors"/> · TOps.Count; k is any length. With <paramref name="rowScale"/> (and accumulate) row r of C
    /// is first multiplied by rowScale[r] as it is loaded: the forward's O_i = diag(α) O_i + P V_j in one pass over O_i.
    /// With <paramref name="transposedA"/> A is given as Aᵀ (k × m row-major): element (r, x) at a[x·lda + r], so a tile's
    /// eight broadcasts of a step come from one contiguous run (the forward's P·V from the Pᵀ its Q·Kᵀ produced).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply<TOps, TVector>(float* a, int lda, float* b, int ldb, float* c, int ldc,
        int m, int n, int k, bool accumulate, float* rowScale = null, bool transposedA = false) where TOps : struct, ISimd<TVector> where TVector : struct
    {
        int w = TOps.Count;
        bool eight = TOps.TileRows == 8; // folded per width: the four-row instantiation drops rows 4–7
        for (int i = 0; i < m; i += TOps.TileRows)
        {
            float* a0 = a + (long)i * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
            float* a4 = a3 + lda, a5 = a4 + lda, a6 = a5 + lda, a7 = a6 + lda;
            float* c0 = c + (long)i * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
            float* c4 = c3 + ldc, c5 = c4 + ldc, c6 = c5 + ldc, c7 = c6 + ldc;
            for (int j = 0; j < n; j += Vectors * w)
            {
                TVector c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
                TVector c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
                if (accumulate)
                {
                    c00 = TOps.Load(c0 + j); c01 = TOps.Load(c0 + j + w);
                    c10 = TOps.Load(c1 + j); c11 = TOps.Load(c1 + j + w);
                    c20 = TOps.Load(c2 + j); c21 = TOps.Load(c2 + j + w);
                    c30 = TOps.Load(c3 + j); c31 = TOps.Load(c3 + j + w);
                    if (eight)
                    {
                        c40 = TOps.Load(c4 + j); c41 = TOps.Load(c4 + j + w);
                        c50 = TOps.Load(c5 + j); c51 = TOps.Load(c5 + j + w);
                        c60 = TOps.Load(c6 + j); c61 = TOps.Load(c6 + j + w);
                        c70 = TOps.Load(c7 + j); c71 = TOps.Load(c7 + j + w);
                    }
                    if (rowScale != null)
                    {
                        float* f = rowScale + i;
                        var s0 = TOps.Broadcast(f[0]); c00 = TOps.Multiply(c00, s0); c01 = TOps.Multiply(c01, s0);
                        s0 = TOps.Broadcast(f[1]); c10 = TOps.Multiply(c10, s0); c11 = TOps.Multiply(c11, s0);
                        s0 = TOps.Broadcast(f[2]); c20 = TOps.Multiply(c20, s0); c21 = TOps.Multiply(c21, s0);
                        s0 = TOps.Broadcast(f[3]); c30 = TOps.Multiply(c30, s0); c31 = TOps.Multiply(c31, s0);
                        if (eight)
                        {
                            s0 = TOps.Broadcast(f[4]); c40 = TOps.Multiply(c40, s0); c41 = TOps.Multiply(c41, s0);
                            s0 = TOps.Broadcast(f[5]); c50 = TOps.Multiply(c50, s0); c51 = TOps.Multiply(c51, s0);
                            s0 = TOps.Broadcast(f[6]); c60 = TOps.Multiply(c60, s0); c61 = TOps.Multiply(c61, s0);
                            s0 = TOps.Broadcast(f[7]); c70 = TOps.Multiply(c70, s0); c71 = TOps.Multiply(c71, s0);
                        }
                    }
                }
                float* bx = b + j;
                if (transposedA)
                {
                    // the same steps as below, the tile's A column at ax[0..7]: one base register, immediate offsets
                    float* ax = a + i;
                    for (int x = 0; x < k; x++, ax += lda, bx += ldb)
                    {
                        var b0 = TOps.Load(bx);
                        var b1 = TOps.Load(bx + w);
                        var s = TOps.Broadcast(ax[0]);
                        c00 = TOps.MultiplyAdd(s, b0, c00); c01 = TOps.MultiplyAdd(s, b1, c01);
                        s = TOps.Broadcast(ax[1]);
                        c10 = TOps.MultiplyAdd(s, b0, c10); c11 = TOps.MultiplyAdd(s, b1, c11);
                        s = TOps.Broadcast(ax[2]);
                        c20 = TOps.MultiplyAdd(s, b0, c20); c21 = TOps.MultiplyAdd(s, b1, c21);
                        s = TOps.Broadcast(ax[3]);
                        c30 = TOps.MultiplyAdd(s, b0, c30); c31 = TOps.MultiplyAdd(s, b1, c31);
                        if (eight)
                        {
                            s = TOps.Broadcast(ax[4]);
                            c40 = TOps.MultiplyAdd(s, b0, c40); c41 = TOps.MultiplyAdd(s, b1, c41);
                            s = TOps.Broadcast(ax[5]);
                            c50 = TOps.MultiplyAdd(s, b0, c50); c51 = TOps.MultiplyAdd(s, b1, c51);
                            s = TOps.Broadcast(ax[6]);
                            c60 = TOps.MultiplyAdd(s, b0, c60); c61 = TOps.MultiplyAdd(s, b1, c61);
                            s = TOps.Broadcast(ax[7]);
                            c70 = TOps.MultiplyAdd(s, b0, c70); c71 = TOps.MultiplyAdd(s, b1, c71);
                        }
                    }
                }
                else for (int x = 0; x < k; x++, bx += ldb)
                {
                    var b0 = TOps.Load(bx);
                    var b1 = TOps.Load(bx + w);
                    var s = TOps.Broadcast(a0[x]);
                    c00 = TOps.MultiplyAdd(s, b0, c00); c01 = TOps.MultiplyAdd(s, b1, c01);
                    s = TOps.Broadcast(a1[x]);
                    c10 = TOps.MultiplyAdd(s, b0, c10); c11 = TOps.MultiplyAdd(s, b1, c11);
                    s = TOps.Broadcast(a2[x]);
                    c20 = TOps.MultiplyAdd(s, b0, c20); c21 = TOps.MultiplyAdd(s, b1, c21);
                    s = TOps.Broadcast(a3[x]);
                    c30 = TOps.MultiplyAdd(s, b0, c30); c31 = TOps.MultiplyAdd(s, b1, c31);
                    if (eight)
                    {
                        s = TOps.Broadcast(a4[x]);
                        c40 = TOps.MultiplyAdd(s, b0, c40); c41 = TOps.MultiplyAdd(s, b1, c41);
                        s = TOps.Broadcast(a5[x]);
                        c50 = TOps.MultiplyAdd(s, b0, c50); c51 = TOps.MultiplyAdd(s, b1, c51);
                        s = TOps.Broadcast(a6[x]);
                        c60 = TOps.MultiplyAdd(s, b0, c60); c61 = TOps.MultiplyAdd(s, b1, c61);
                        s = TOps.Broadcast(a7[x]);
                        c70 = TOps.MultiplyAdd(s, b0, c70); c71 = TOps.MultiplyAdd(s, b1, c71);
                    }
                }
                TOps.Store(c0 + j, c00); TOps.Store(c0 + j + w, c01);
                TOps.Store(c1 + j, c10); TOps.Store(c1 + j + w, c11);
                TOps.Store(c2 + j, c20); TOps.Store(c2 + j + w, c21);
                TOps.Store(c3 + j, c30); TOps.Store(c3 + j + w, c31);
                if (eight)
                {
                    TOps.Store(c4 + j, c40); TOps.Store(c4 + j + w, c41);
                    TOps.Store(c5 + j, c50); TOps.Store(c5 + j + w, c51);
                    TOps.Store(c6 + j, c60); TOps.Store(c6 + j + w, c61);
                    TOps.Store(c7 + j, c70); TOps.Store(c7 + j + w, c71);
                }
            }
        }
    }
}
