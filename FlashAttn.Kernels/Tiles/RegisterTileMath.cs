using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Register-blocked products over fp32 shared tiles read as 16-byte vectors (<see cref="Float4"/> views), for the
/// register-tiled kernels. Each thread accumulates a small block of the result in a register array; every shared
/// vector it needs is loaded once per step into a fragment register array (the compiler does not merge loads).
/// Row arguments (first, step) pick a thread's rows or keys; all counts must be compile-time constants. With
/// <c>rolled</c> the outermost loop stays a loop (see <see cref="Steps"/>).
/// </summary>
internal static class RegisterTileMath
{
    /// <summary>
    /// c[i·cols + j] += A[aFirst + i·aStep] · B[bFirst + j·bStep] (dot products over <paramref name="chunks"/> 4-float
    /// chunks of two row-major tiles, e.g. S = Q Kᵀ). <paramref name="bFragment"/> holds ≥ cols vectors.
    /// </summary>
    public static void MultiplyABt(ArrayView<Float4> a, int aRowVectors, int aFirst, int aStep, int rows,
        ArrayView<Float4> b, int bRowVectors, int bFirst, int bStep, int cols, int chunks,
        ArrayView<float> c, ArrayView<Float4> bFragment, bool rolled = false)
    {
        for (int step = 0; step < Steps(chunks, rolled); step += StepOf(chunks, rolled))
        for (int u = 0; u < StepOf(chunks, rolled); u++)
        {
            int chunk = step + u;
            for (int j = 0; j < cols; j++) bFragment[j] = b[(bFirst + j * bStep) * bRowVectors + chunk];
            for (int i = 0; i < rows; i++)
            {
                Float4 av = a[(aFirst + i * aStep) * aRowVectors + chunk];
                for (int j = 0; j < cols; j++)
                {
                    Float4 bv = bFragment[j];
                    float s = c[i * cols + j];
                    s = XMath.Fma(av.X, bv.X, s);
                    s = XMath.Fma(av.Y, bv.Y, s);
                    s = XMath.Fma(av.Z, bv.Z, s);
                    c[i * cols + j] = XMath.Fma(av.W, bv.W, s);
                }
            }
        }
    }

    /// <summary>
    /// c[(i·outChunks + o)·4 + e] += Σ_k A[aFirst + i·aStep][k] · B[k][4·(bChunk + o·bChunkStep) + e] over
    /// <paramref name="inner"/> (a multiple of 4) k, A read as 4-float chunks along k (e.g. O += P V).
    /// <paramref name="bFragment"/> holds ≥ 4·outChunks vectors.
    /// </summary>
    public static void MultiplyAB(ArrayView<Float4> a, int aRowVectors, int aFirst, int aStep, int rows,
        ArrayView<Float4> b, int bRowVectors, int bChunk, int bChunkStep, int outChunks, int inner,
        ArrayView<float> c, ArrayView<Float4> bFragment, bool rolled = false)
    {
        for (int step = 0; step < Steps(inner / 4, rolled); step += StepOf(inner / 4, rolled))
        for (int u = 0; u < StepOf(inner / 4, rolled); u++)
        {
            int k4 = step + u;
            LoadRows(b, bRowVectors, 4 * k4, bChunk, bChunkStep, outChunks, bFragment);
            for (int i = 0; i < rows; i++)
                FourRankUpdate(a[(aFirst + i * aStep) * aRowVectors + k4], bFragment, outChunks, c, i * outChunks * 4);
        }
    }

    /// <summary>
    /// c[(i·outChunks + o)·4 + e] += Σ_k Aᵀ[k][rowFirst + i] · B[k][4·(bChunk + o·bChunkStep) + e] for 4·<paramref name="rowVectors"/>
    /// consecutive rows (e.g. dQ += dS K from a transposed dS tile): one 16-byte load gives four rows' weights.
    /// </summary>
    public static void MultiplyAtB(ArrayView<Float4> at, int atRowVectors, int rowFirstVector, int rowVectors,
        ArrayView<Float4> b, int bRowVectors, int bChunk, int bChunkStep, int outChunks, int inner,
        ArrayView<float> c, ArrayView<Float4> bFragment, bool rolled = false)
    {
        for (int step = 0; step < Steps(inner, rolled); step += StepOf(inner, rolled))
        for (int u = 0; u < StepOf(inner, rolled); u++)
        {
            int k = step + u;
            for (int o = 0; o < outChunks; o++) bFragment[o] = b[k * bRowVectors + bChunk + o * bChunkStep];
            for (int v = 0; v < rowVectors; v++)
            {
                Float4 w = at[k * atRowVectors + rowFirstVector + v];
                for (int o = 0; o < outChunks; o++)
                {
                    Float4 bv = bFragment[o];
                    MultiplyAdd(c, ((4 * v + 0) * outChunks + o) * 4, w.X, bv);
                    MultiplyAdd(c, ((4 * v + 1) * outChunks + o) * 4, w.Y, bv);
                    MultiplyAdd(c, ((4 * v + 2) * outChunks + o) * 4, w.Z, bv);
                    MultiplyAdd(c, ((4 * v + 3) * outChunks + o) * 4, w.W, bv);
                }
            }
        }
    }

    /// <summary>Steps unrolled in each iteration of a rolled outer loop.</summary>
    private const int RolledStep = 4;

    /// <summary>
    /// Bound of the outer loop: with <paramref name="rolled"/> a run-time value (<see cref="LoopControl.RuntimeBound"/>),
    /// so the loop stays a loop of <see cref="RolledStep"/>-step unrolled bodies (count must be a multiple of it); else
    /// the constant, and everything unrolls. The backward kernel rolls: unrolled whole, its five products outgrew the
    /// instruction cache (ncu: 63% of warp samples stalled on instruction fetch).
    /// </summary>
    private static int Steps(int count, bool rolled) => rolled ? LoopControl.RuntimeBound(count) : count;

    private static int StepOf(int count, bool rolled) => rolled ? RolledStep : count;

    /// <summary>fragment[e·outChunks + o] = B[row0 + e][chunk + o·chunkStep] for e &lt; 4.</summary>
    private static void LoadRows(ArrayView<Float4> b, int bRowVectors, int row0, int chunk, int chunkStep, int outChunks, ArrayView<Float4> fragment)
    {
        for (int e = 0; e < 4; e++)
            for (int o = 0; o < outChunks; o++)
                fragment[e * outChunks + o] = b[(row0 + e) * bRowVectors + chunk + o * chunkStep];
    }

    /// <summary>c[first + (o·4 …)] += w.X·B row 0 + w.Y·B row 1 + w.Z·B row 2 + w.W·B row 3, B rows in the fragment.</summary>
    private static void FourRankUpdate(Float4 w, ArrayView<Float4> fragment, int outChunks, ArrayView<float> c, int first)
    {
        for (int o = 0; o < outChunks; o++)
        {
            int at = first + o * 4;
            MultiplyAdd(c, at, w.X, fragment[o]);
            MultiplyAdd(c, at, w.Y, fragment[outChunks + o]);
            MultiplyAdd(c, at, w.Z, fragment[2 * outChunks + o]);
            MultiplyAdd(c, at, w.W, fragment[3 * outChunks + o]);
        }
    }

    /// <summary>c[at … at+3] += weight · value.</summary>
    private static void MultiplyAdd(ArrayView<float> c, int at, float weight, Float4 value)
    {
        c[at] = XMath.Fma(weight, value.X, c[at]);
        c[at + 1] = XMath.Fma(weight, value.Y, c[at + 1]);
        c[at + 2] = XMath.Fma(weight, value.Z, c[at + 2]);
        c[at + 3] = XMath.Fma(weight, value.W, c[at + 3]);
    }
}
