using FlashAttn.Compute;

namespace FlashAttn.Bench.Kernels;

/// <summary>
/// The SGEMM benchmark (see <see cref="SgemmKernels"/>) with its tiles staged by <see cref="AsyncCopy"/>
/// (cp.async) straight from global to shared memory: no registers hold the next slice, no transposing
/// scalar stores, and A is read in its natural row-major layout as 16-byte chunks along K.
/// </summary>
/// <remarks>
/// Same 128×128 tile, 256 threads, 8×8 split register block and 16-deep K slices as <see cref="SgemmKernels"/>;
/// two shared stages: slice t+1 streams in while slice t is multiplied, then one wait and one barrier.
/// A thread's A fragment for four K steps is one 16-byte load per row (the lanes of a quarter warp share a row:
/// a broadcast); its B fragment is two 16-byte loads per K step, as before.
/// </remarks>
internal static class SgemmAsyncKernels
{
    private const int BlockM = SgemmKernels.BlockM, BlockN = SgemmKernels.BlockN, BlockK = SgemmKernels.BlockK;
    private const int ThreadM = SgemmKernels.ThreadM, ThreadN = SgemmKernels.ThreadN, Threads = SgemmKernels.Threads;
    private const int Half = BlockM / 2;
    private const int StageFloats = BlockK * BlockM; // one stage of A (and of B): 2048 floats
    private const int ChunksPerThread = StageFloats / 4 / Threads; // 2 chunks of A and 2 of B per thread per slice

    /// <summary>The benchmark kernel: registers budgeted for two resident groups per multiprocessor.</summary>
    [LaunchBounds(Threads, 2)]
    public static void SgemmAsync(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, int m, int n, int k)
    {
        var tileA = SharedMemory.Allocate<float>(2 * StageFloats); // [stage][row][k]
        var tileB = SharedMemory.Allocate<float>(2 * StageFloats); // [stage][k][column]
        var tileAVectors = tileA.Cast<Float4>();
        var tileBVectors = tileB.Cast<Float4>();
        var accumulator = LocalMemory.Allocate<float>(ThreadM * ThreadN);
        var fragmentA = LocalMemory.Allocate<Float4>(ThreadM);
        var fragmentB = LocalMemory.Allocate<float>(ThreadN);

        int tid = Group.IdxX;
        int ty = tid / (BlockN / ThreadN), tx = tid % (BlockN / ThreadN);
        int rowBase = Grid.IdxY * BlockM, columnBase = Grid.IdxX * BlockN;
        for (int e = 0; e < ThreadM * ThreadN; e++) accumulator[e] = 0f;

        IssueSlice(a, b, tileA, tileB, tid, rowBase, columnBase, 0, 0, n, k);
        AsyncCopy.WaitAll();
        Group.Barrier();

        int steps = k / BlockK;
        for (int step = 0; step < steps; step++)
        {
            int stage = step & 1;
            // the other stage was last read before the previous barrier: refill it in the background
            if (step + 1 < steps) IssueSlice(a, b, tileA, tileB, tid, rowBase, columnBase, (step + 1) * BlockK, stage ^ 1, n, k);

            int stageVectors = stage * (StageFloats / 4);
            for (int kc = 0; kc < BlockK / 4; kc++)
            {
                // rows {4ty … 4ty+3, 64+4ty …}: one float4 = four K steps of one row
                for (int i = 0; i < ThreadM; i++)
                    fragmentA[i] = tileAVectors[stageVectors + ((i / 4) * Half + ty * 4 + i % 4) * (BlockK / 4) + kc];
                for (int kk = 0; kk < 4; kk++)
                {
                    for (int half = 0; half < 2; half++)
                    {
                        Float4 fb = tileBVectors[stageVectors + ((kc * 4 + kk) * BlockN + half * Half) / 4 + tx];
                        fragmentB[half * 4 + 0] = fb.X; fragmentB[half * 4 + 1] = fb.Y; fragmentB[half * 4 + 2] = fb.Z; fragmentB[half * 4 + 3] = fb.W;
                    }
                    for (int i = 0; i < ThreadM; i++)
                    {
                        Float4 fa = fragmentA[i];
                        float ai = kk == 0 ? fa.X : kk == 1 ? fa.Y : kk == 2 ? fa.Z : fa.W;
                        for (int j = 0; j < ThreadN; j++)
                            accumulator[i * ThreadN + j] = XMath.Fma(ai, fragmentB[j], accumulator[i * ThreadN + j]);
                    }
                }
            }
            AsyncCopy.WaitAll();
            Group.Barrier();
        }

        SgemmKernels.StoreBlock(c, accumulator, rowBase, columnBase, ty, tx, n);
    }

    /// <summary>Starts the copies of one K slice: A rows (128 × 4 chunks) and B rows (16 × 32 chunks) into <paramref name="stage"/>.</summary>
    private static void IssueSlice(ArrayView<float> a, ArrayView<float> b, ArrayView<float> tileA, ArrayView<float> tileB,
        int tid, int rowBase, int columnBase, int kBase, int stage, int n, int k)
    {
        for (int v = 0; v < ChunksPerThread; v++)
        {
            int index = tid + v * Threads;
            int row = index / (BlockK / 4), chunk = index % (BlockK / 4);
            AsyncCopy.Copy16(ref tileA[stage * StageFloats + index * 4], ref a[(rowBase + row) * k + kBase + chunk * 4], true);
        }
        for (int v = 0; v < ChunksPerThread; v++)
        {
            int index = tid + v * Threads;
            int row = index / (BlockN / 4), chunk = index % (BlockN / 4);
            AsyncCopy.Copy16(ref tileB[stage * StageFloats + index * 4], ref b[(kBase + row) * n + columnBase + chunk * 4], true);
        }
    }
}
