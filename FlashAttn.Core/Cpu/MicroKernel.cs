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
        // A tile's rows 1–3 relative to rows 0 and 4 (o1…o3), and from one step to the next (step): rows lda apart and steps
        // 1 apart, or (Aᵀ) rows 1 apart and steps lda apart. Two row pointers and three offsets address a step's eight
        // rows from five registers (eight row pointers left the JIT four to reload from the stack each step).
        nint o1 = transposedA ? 1 : lda, o2 = 2 * o1, o3 = 3 * o1, step = transposedA ? lda : 1;
        for (int i = 0; i < m; i += TOps.TileRows)
        {
            float* ci = c + (long)i * ldc;
            for (int j = 0; j < n; j += Vectors * w)
            {
                float* cj = ci + j;
                TVector c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
                TVector c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
                if (accumulate)
                {
                    c00 = TOps.Load(cj); c01 = TOps.Load(cj + w);
                    c10 = TOps.Load(cj + ldc); c11 = TOps.Load(cj + ldc + w);
                    c20 = TOps.Load(cj + 2 * ldc); c21 = TOps.Load(cj + 2 * ldc + w);
                    c30 = TOps.Load(cj + 3 * ldc); c31 = TOps.Load(cj + 3 * ldc + w);
                    if (eight)
                    {
                        c40 = TOps.Load(cj + 4 * ldc); c41 = TOps.Load(cj + 4 * ldc + w);
                        c50 = TOps.Load(cj + 5 * ldc); c51 = TOps.Load(cj + 5 * ldc + w);
                        c60 = TOps.Load(cj + 6 * ldc); c61 = TOps.Load(cj + 6 * ldc + w);
                        c70 = TOps.Load(cj + 7 * ldc); c71 = TOps.Load(cj + 7 * ldc + w);
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
                // element x of the tile's rows 0–3 at top[0], top[o1], top[o2], top[o3], of rows 4–7 at bottom[…]
                float* top = a + i * o1, bottom = top + 4 * o1;
                float* bx = b + j;
                for (int x = 0; x < k; x++, top += step, bottom += step, bx += ldb)
                {
                    var b0 = TOps.Load(bx);
                    var b1 = TOps.Load(bx + w);
                    var s = TOps.Broadcast(top[0]);
                    c00 = TOps.MultiplyAdd(s, b0, c00); c01 = TOps.MultiplyAdd(s, b1, c01);
                    s = TOps.Broadcast(top[o1]);
                    c10 = TOps.MultiplyAdd(s, b0, c10); c11 = TOps.MultiplyAdd(s, b1, c11);
                    s = TOps.Broadcast(top[o2]);
                    c20 = TOps.MultiplyAdd(s, b0, c20); c21 = TOps.MultiplyAdd(s, b1, c21);
                    s = TOps.Broadcast(top[o3]);
                    c30 = TOps.MultiplyAdd(s, b0, c30); c31 = TOps.MultiplyAdd(s, b1, c31);
                    if (eight)
                    {
                        s = TOps.Broadcast(bottom[0]);
                        c40 = TOps.MultiplyAdd(s, b0, c40); c41 = TOps.MultiplyAdd(s, b1, c41);
                        s = TOps.Broadcast(bottom[o1]);
                        c50 = TOps.MultiplyAdd(s, b0, c50); c51 = TOps.MultiplyAdd(s, b1, c51);
                        s = TOps.Broadcast(bottom[o2]);
                        c60 = TOps.MultiplyAdd(s, b0, c60); c61 = TOps.MultiplyAdd(s, b1, c61);
                        s = TOps.Broadcast(bottom[o3]);
                        c70 = TOps.MultiplyAdd(s, b0, c70); c71 = TOps.MultiplyAdd(s, b1, c71);
                    }
                }
                TOps.Store(cj, c00); TOps.Store(cj + w, c01);
                TOps.Store(cj + ldc, c10); TOps.Store(cj + ldc + w, c11);
                TOps.Store(cj + 2 * ldc, c20); TOps.Store(cj + 2 * ldc + w, c21);
                TOps.Store(cj + 3 * ldc, c30); TOps.Store(cj + 3 * ldc + w, c31);
                if (eight)
                {
                    TOps.Store(cj + 4 * ldc, c40); TOps.Store(cj + 4 * ldc + w, c41);
                    TOps.Store(cj + 5 * ldc, c50); TOps.Store(cj + 5 * ldc + w, c51);
                    TOps.Store(cj + 6 * ldc, c60); TOps.Store(cj + 6 * ldc + w, c61);
                    TOps.Store(cj + 7 * ldc, c70); TOps.Store(cj + 7 * ldc + w, c71);
                }
            }
        }
    }
}
