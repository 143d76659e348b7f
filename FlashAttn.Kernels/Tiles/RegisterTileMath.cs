using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Register-blocked products over fp32 shared tiles read as 16-byte vectors (<see cref="Float4"/> views), for the
/// register-tiled kernels. Each thread accumulates a small block of the result in a register array; every shared
/// vector it needs for one step is loaded once into a fragment register array (the compiler does not merge loads).
/// Row arguments (first, step) pick a thread's rows or keys; all counts must be compile-time constants. With
/// <c>stepsPerIteration</c> &gt; 0 the outermost loop stays a loop of that many unrolled steps (see <see cref="Steps"/>).
/// (Measured on the H100 and left out: prefetching the next step's fragments into a second buffer, and a
/// component-major FFMA order; ptxas schedules both the same.)
/// </summary>
internal static class RegisterTileMath
{
    /// <summary>
    /// c[i·cols + j] += A[aFirst + i·aStep] · B[bFirst + j·bStep] (dot products over <paramref name="chunks"/> 4-float
    /// chunks of two row-major tiles, e.g. S = Q Kᵀ).
    /// </summary>
    public static void MultiplyABt(ArrayView<Float4> a, int aRowVectors, int aFirst, int aStep, int rows,
        ArrayView<Float4> b, int bRowVectors, int bFirst, int bStep, int cols, int chunks,
        ArrayView<float> c, int stepsPerIteration = Unrolled)
    {
        var fragments = LocalMemory.Allocate<Float4>(MaxRows + MaxCols);
        for (int step = 0; step < Steps(chunks, stepsPerIteration); step += StepOf(chunks, stepsPerIteration))
        for (int u = 0; u < StepOf(chunks, stepsPerIteration); u++)
        {
            int chunk = step + u;
            LoadChunk(a, aRowVectors, aFirst, aStep, rows, b, bRowVectors, bFirst, bStep, cols, chunk, fragments);
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                {
                    Float4 av = fragments[i], bv = fragments[MaxRows + j];
                    float s = c[i * cols + j];
                    s = XMath.Fma(av.X, bv.X, s);
                    s = XMath.Fma(av.Y, bv.Y, s);
                    s = XMath.Fma(av.Z, bv.Z, s);
                    c[i * cols + j] = XMath.Fma(av.W, bv.W, s);
                }
        }
    }

    /// <summary>
    /// c[(i·outChunks + o)·4 + e] += Σ_k A[aFirst + i·aStep][k] · B[k][4·(bChunk + o·bChunkStep) + e] over
    /// <paramref name="inner"/> (a multiple of 4) k, A read as 4-float chunks along k (e.g. O += P V): four rank-1
    /// updates per step.
    /// </summary>
    public static void MultiplyAB(ArrayView<Float4> a, int aRowVectors, int aFirst, int aStep, int rows,
        ArrayView<Float4> b, int bRowVectors, int bChunk, int bChunkStep, int outChunks, int inner,
        ArrayView<float> c, int stepsPerIteration = Unrolled)
    {
        var fragments = LocalMemory.Allocate<Float4>(MaxRows + 4 * MaxOutChunks);
        int steps = inner / 4;
        for (int step = 0; step < Steps(steps, stepsPerIteration); step += StepOf(steps, stepsPerIteration))
        for (int u = 0; u < StepOf(steps, stepsPerIteration); u++)
        {
            int k4 = step + u;
            LoadRowStep(a, aRowVectors, aFirst, aStep, rows, b, bRowVectors, bChunk, bChunkStep, outChunks, k4, fragments);
            for (int i = 0; i < rows; i++)
                for (int o = 0; o < outChunks; o++)
                {
                    Float4 w = fragments[i];
                    int at = (i * outChunks + o) * 4;
                    MultiplyAdd(c, at, w.X, fragments[MaxRows + o]);
                    MultiplyAdd(c, at, w.Y, fragments[MaxRows + outChunks + o]);
                    MultiplyAdd(c, at, w.Z, fragments[MaxRows + 2 * outChunks + o]);
                    MultiplyAdd(c, at, w.W, fragments[MaxRows + 3 * outChunks + o]);
                }
        }
    }

    /// <summary>
    /// c[((4v + e)·outChunks + o)·4 + f] += Σ_k Aᵀ[k][4·(rowFirstVector + v) + e] · B[k][4·(bChunk + o·bChunkStep) + f]
    /// for 4·<paramref name="rowVectors"/> consecutive rows (e.g. dQ += dS K from a transposed dS tile): one 16-byte
    /// load gives four rows' weights.
    /// </summary>
    public static void MultiplyAtB(ArrayView<Float4> at, int atRowVectors, int rowFirstVector, int rowVectors,
        ArrayView<Float4> b, int bRowVectors, int bChunk, int bChunkStep, int outChunks, int inner,
        ArrayView<float> c, int stepsPerIteration = Unrolled)
    {
        var fragments = LocalMemory.Allocate<Float4>(MaxRowVectors + MaxOutChunks);
        for (int step = 0; step < Steps(inner, stepsPerIteration); step += StepOf(inner, stepsPerIteration))
        for (int u = 0; u < StepOf(inner, stepsPerIteration); u++)
        {
            int k = step + u;
            LoadColumnStep(at, atRowVectors, rowFirstVector, rowVectors, b, bRowVectors, bChunk, bChunkStep, outChunks, k, fragments);
            for (int v = 0; v < rowVectors; v++)
                for (int o = 0; o < outChunks; o++)
                {
                    Float4 w = fragments[v], bv = fragments[MaxRowVectors + o];
                    MultiplyAdd(c, ((4 * v + 0) * outChunks + o) * 4, w.X, bv);
                    MultiplyAdd(c, ((4 * v + 1) * outChunks + o) * 4, w.Y, bv);
                    MultiplyAdd(c, ((4 * v + 2) * outChunks + o) * 4, w.Z, bv);
                    MultiplyAdd(c, ((4 * v + 3) * outChunks + o) * 4, w.W, bv);
                }
        }
    }

    /// <summary><c>stepsPerIteration</c> for a product unrolled whole.</summary>
    public const int Unrolled = 0;

    /// <summary>Most rows of A (MultiplyABt, MultiplyAB) and keys of B (MultiplyABt) a thread blocks over.</summary>
    private const int MaxRows = 8, MaxCols = 8;

    /// <summary>Most 4-column output chunks (d' = 128 over 16 column threads) and 4-row vectors of Aᵀ.</summary>
    private const int MaxOutChunks = 2, MaxRowVectors = 2;

    /// <summary>
    /// Bound of the outer loop: for a rolled product (<paramref name="stepsPerIteration"/> &gt; 0) a run-time value
    /// (<see cref="LoopControl.RuntimeBound"/>), so the loop stays a loop of <paramref name="stepsPerIteration"/>-step
    /// unrolled bodies; else the constant, and everything unrolls (also when <paramref name="stepsPerIteration"/> does not
    /// divide the count, so no body runs past it). How far to unroll is the caller's measured choice: unrolled whole, the
    /// backward's five products outgrew the instruction cache (ncu: 63% of warp samples stalled on instruction fetch),
    /// while too short a body leaves ptxas little to schedule.
    /// </summary>
    private static int Steps(int count, int stepsPerIteration) =>
        IsRolled(count, stepsPerIteration) ? LoopControl.RuntimeBound(count) : count;

    private static int StepOf(int count, int stepsPerIteration) => IsRolled(count, stepsPerIteration) ? stepsPerIteration : count;

    private static bool IsRolled(int count, int stepsPerIteration) =>
        stepsPerIteration > 0 && stepsPerIteration < count && count % stepsPerIteration == 0;

    /// <summary>fragments[i] = A row i's chunk, fragments[MaxRows + j] = B row j's chunk.</summary>
    private static void LoadChunk(ArrayView<Float4> a, int aRowVectors, int aFirst, int aStep, int rows,
        ArrayView<Float4> b, int bRowVectors, int bFirst, int bStep, int cols, int chunk, ArrayView<Float4> fragments)
    {
        for (int j = 0; j < cols; j++) fragments[MaxRows + j] = b[(bFirst + j * bStep) * bRowVectors + chunk];
        for (int i = 0; i < rows; i++) fragments[i] = a[(aFirst + i * aStep) * aRowVectors + chunk];
    }

    /// <summary>fragments[i] = A row i at k = 4·k4 … 4·k4+3; fragments[MaxRows + e·outChunks + o] = B[4·k4 + e] chunk o.</summary>
    private static void LoadRowStep(ArrayView<Float4> a, int aRowVectors, int aFirst, int aStep, int rows,
        ArrayView<Float4> b, int bRowVectors, int bChunk, int bChunkStep, int outChunks, int k4, ArrayView<Float4> fragments)
    {
        for (int e = 0; e < 4; e++)
            for (int o = 0; o < outChunks; o++)
                fragments[MaxRows + e * outChunks + o] = b[(4 * k4 + e) * bRowVectors + bChunk + o * bChunkStep];
        for (int i = 0; i < rows; i++) fragments[i] = a[(aFirst + i * aStep) * aRowVectors + k4];
    }

    /// <summary>fragments[v] = Aᵀ[k] row vector v; fragments[MaxRowVectors + o] = B[k] chunk o.</summary>
    private static void LoadColumnStep(ArrayView<Float4> at, int atRowVectors, int rowFirstVector, int rowVectors,
        ArrayView<Float4> b, int bRowVectors, int bChunk, int bChunkStep, int outChunks, int k, ArrayView<Float4> fragments)
    {
        for (int o = 0; o < outChunks; o++) fragments[MaxRowVectors + o] = b[k * bRowVectors + bChunk + o * bChunkStep];
        for (int v = 0; v < rowVectors; v++) fragments[v] = at[k * atRowVectors + rowFirstVector + v];
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
