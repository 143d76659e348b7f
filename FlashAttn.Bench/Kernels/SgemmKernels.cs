using FlashAttn.Compute;

namespace FlashAttn.Bench.Kernels;

/// <summary>
/// Compiler-quality benchmark: C = A·B in fp32 (row-major, M×K by K×N) on FFMA units, shared-memory tiles
/// and an 8×8 register block per thread. The inner loop (vector shared loads feeding a fully unrolled
/// block of 64 FFMAs) is the shape the attention kernels need.
/// </summary>
/// <remarks>
/// Group: 256 threads computing a 128×128 tile of C, stepping K by <see cref="BlockK"/> = 16.
/// <list type="bullet">
/// <item>Double buffering: while the FFMAs consume one shared stage, the next K-slice is already loaded
/// from global memory into registers, then stored to the other stage; one barrier per step.</item>
/// <item>A is stored transposed (tileA[k][row]) so a thread's rows are contiguous.</item>
/// <item>Split fragments: a thread owns rows {4·ty…4·ty+3, 64+4·ty…} and columns {4·tx…, 64+4·tx…}, so
/// each warp-wide 16-byte shared load reads 256 contiguous bytes (two wavefronts, no waste).</item>
/// </list>
/// Requires M, N multiples of 128 and K a multiple of 16. Kernel log in docs/performance.md.
/// </remarks>
internal static class SgemmKernels
{
    public const int BlockM = 128, BlockN = 128, BlockK = 16, ThreadM = 8, ThreadN = 8;
    public const int Threads = BlockM / ThreadM * (BlockN / ThreadN); // 256
    private const int Half = BlockM / 2; // the split between a thread's two 4-wide fragments
    private const int StageFloats = BlockK * BlockM; // one shared stage of A (and of B): 2048 floats
    private const int VectorsPerThreadA = BlockM * BlockK / 4 / Threads; // 2 float4 of A per thread per step
    private const int VectorsPerThreadB = BlockK * BlockN / 4 / Threads; // 2 float4 of B per thread per step

    /// <summary>The benchmark kernel: registers budgeted for two resident groups per multiprocessor.</summary>
    [LaunchBounds(Threads, 2)]
    public static void Sgemm(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, int m, int n, int k)
        => Multiply(a, b, c, m, n, k);

    /// <summary>The same kernel with the whole register file for one group per multiprocessor.</summary>
    [LaunchBounds(Threads, 1)]
    public static void SgemmOneGroupPerMultiprocessor(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, int m, int n, int k)
        => Multiply(a, b, c, m, n, k);

    private static void Multiply(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, int m, int n, int k)
    {
        var tileA = SharedMemory.Allocate<float>(2 * StageFloats); // [stage][k][row]
        var tileB = SharedMemory.Allocate<float>(2 * StageFloats); // [stage][k][column]
        var tileAVectors = tileA.Cast<Float4>();
        var tileBVectors = tileB.Cast<Float4>();
        var aVectors = a.Cast<Float4>();
        var bVectors = b.Cast<Float4>();
        var accumulator = LocalMemory.Allocate<float>(ThreadM * ThreadN);
        var fragmentA = LocalMemory.Allocate<float>(ThreadM);
        var fragmentB = LocalMemory.Allocate<float>(ThreadN);
        var stagedA = LocalMemory.Allocate<Float4>(VectorsPerThreadA);
        var stagedB = LocalMemory.Allocate<Float4>(VectorsPerThreadB);

        int tid = Group.IdxX;
        int ty = tid / (BlockN / ThreadN), tx = tid % (BlockN / ThreadN);
        int rowBase = Grid.IdxY * BlockM, columnBase = Grid.IdxX * BlockN;

        for (int e = 0; e < ThreadM * ThreadN; e++) accumulator[e] = 0f;

        // ---- prologue: K-slice 0 into stage 0 ----
        LoadSlice(aVectors, bVectors, stagedA, stagedB, tid, rowBase, columnBase, 0, n, k);
        StoreSlice(tileA, tileBVectors, stagedA, stagedB, tid, 0);
        Group.Barrier();

        int steps = k / BlockK;
        for (int step = 0; step < steps; step++)
        {
            int stage = step & 1;
            bool more = step + 1 < steps;
            // ---- issue the next slice's global loads before the FFMAs that hide their latency ----
            if (more) LoadSlice(aVectors, bVectors, stagedA, stagedB, tid, rowBase, columnBase, (step + 1) * BlockK, n, k);

            // ---- BlockK outer products of an 8-vector of A and an 8-vector of B ----
            int stageVectors = stage * (StageFloats / 4);
            for (int kk = 0; kk < BlockK; kk++)
            {
                for (int half = 0; half < 2; half++)
                {
                    Float4 fa = tileAVectors[stageVectors + (kk * BlockM + half * Half) / 4 + ty];
                    fragmentA[half * 4 + 0] = fa.X; fragmentA[half * 4 + 1] = fa.Y; fragmentA[half * 4 + 2] = fa.Z; fragmentA[half * 4 + 3] = fa.W;
                    Float4 fb = tileBVectors[stageVectors + (kk * BlockN + half * Half) / 4 + tx];
                    fragmentB[half * 4 + 0] = fb.X; fragmentB[half * 4 + 1] = fb.Y; fragmentB[half * 4 + 2] = fb.Z; fragmentB[half * 4 + 3] = fb.W;
                }
                for (int i = 0; i < ThreadM; i++)
                    for (int j = 0; j < ThreadN; j++)
                        accumulator[i * ThreadN + j] = XMath.Fma(fragmentA[i], fragmentB[j], accumulator[i * ThreadN + j]);
            }

            // ---- the other stage was last read before the previous barrier: fill it, then one barrier ----
            if (more) StoreSlice(tileA, tileBVectors, stagedA, stagedB, tid, stage ^ 1);
            Group.Barrier();
        }

        StoreBlock(c, accumulator, rowBase, columnBase, ty, tx, n);
    }

    /// <summary>Writes a thread's 8×8 block of C: rows {4ty…, 64+4ty…}, two float4 per row at columns {4tx, 64+4tx}.</summary>
    internal static void StoreBlock(ArrayView<float> c, ArrayView<float> accumulator, int rowBase, int columnBase, int ty, int tx, int n)
    {
        var cVectors = c.Cast<Float4>();
        for (int i = 0; i < ThreadM; i++)
        {
            int row = rowBase + (i / 4) * Half + ty * 4 + i % 4;
            for (int half = 0; half < 2; half++)
            {
                int o = i * ThreadN + half * 4;
                cVectors[(row * n + columnBase + half * Half) / 4 + tx] =
                    new Float4(accumulator[o], accumulator[o + 1], accumulator[o + 2], accumulator[o + 3]);
            }
        }
    }

    /// <summary>Global → registers: this thread's float4s of A (128 rows × 4 float4) and B (16 rows × 32 float4).</summary>
    private static void LoadSlice(ArrayView<Float4> aVectors, ArrayView<Float4> bVectors, ArrayView<Float4> stagedA, ArrayView<Float4> stagedB,
        int tid, int rowBase, int columnBase, int kBase, int n, int k)
    {
        for (int v = 0; v < VectorsPerThreadA; v++)
        {
            int index = tid + v * Threads;
            int row = index / (BlockK / 4), column = index % (BlockK / 4);
            stagedA[v] = aVectors[((rowBase + row) * k + kBase) / 4 + column];
        }
        for (int v = 0; v < VectorsPerThreadB; v++)
        {
            int index = tid + v * Threads;
            int row = index / (BlockN / 4), column = index % (BlockN / 4);
            stagedB[v] = bVectors[((kBase + row) * n + columnBase) / 4 + column];
        }
    }

    /// <summary>Registers → shared stage: A transposed (four scalar stores per float4), B as float4.</summary>
    private static void StoreSlice(ArrayView<float> tileA, ArrayView<Float4> tileBVectors, ArrayView<Float4> stagedA, ArrayView<Float4> stagedB,
        int tid, int stage)
    {
        for (int v = 0; v < VectorsPerThreadA; v++)
        {
            int index = tid + v * Threads;
            int row = index / (BlockK / 4), kk = index % (BlockK / 4) * 4;
            Float4 value = stagedA[v];
            int baseIndex = stage * StageFloats + row;
            tileA[baseIndex + (kk + 0) * BlockM] = value.X;
            tileA[baseIndex + (kk + 1) * BlockM] = value.Y;
            tileA[baseIndex + (kk + 2) * BlockM] = value.Z;
            tileA[baseIndex + (kk + 3) * BlockM] = value.W;
        }
        for (int v = 0; v < VectorsPerThreadB; v++)
        {
            int index = tid + v * Threads;
            tileBVectors[stage * (StageFloats / 4) + index] = stagedB[v];
        }
    }
}
