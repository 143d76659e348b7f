using FlashAttn.Compute;

namespace FlashAttn.Bench.Kernels;

/// <summary>
/// Compiler-quality benchmark: C = A·B in fp32 (row-major, M×K by K×N), shared-memory tiles and an
/// 8×8 register block per thread. The inner loop (shared loads feeding a fully unrolled block of FFMAs)
/// is the shape the attention kernels need.
/// </summary>
/// <remarks>
/// Group: 256 threads computing a 128×128 tile of C. Per step of <c>BK</c> = 8 along K, each thread loads
/// one float4 of A (stored transposed, so a thread's 8 rows are contiguous) and one float4 of B into
/// shared memory; then for each k it reads 8 values of A and 8 of B (four 16-byte shared loads) and does
/// 64 FFMAs. Requires M, N multiples of 128 and K a multiple of 8.
/// </remarks>
internal static class SgemmKernels
{
    public const int BlockM = 128, BlockN = 128, BlockK = 8, ThreadM = 8, ThreadN = 8;
    public const int Threads = BlockM / ThreadM * (BlockN / ThreadN); // 256

    public static void Sgemm(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, int m, int n, int k)
    {
        var tileA = SharedMemory.Allocate<float>(BlockK * BlockM); // transposed: tileA[kk * BlockM + row]
        var tileB = SharedMemory.Allocate<float>(BlockK * BlockN); // tileB[kk * BlockN + column]
        var tileAVectors = tileA.Cast<Float4>();
        var tileBVectors = tileB.Cast<Float4>();
        var aVectors = a.Cast<Float4>();
        var bVectors = b.Cast<Float4>();
        var accumulator = LocalMemory.Allocate<float>(ThreadM * ThreadN);
        var fragmentA = LocalMemory.Allocate<float>(ThreadM);
        var fragmentB = LocalMemory.Allocate<float>(ThreadN);

        int tid = Group.IdxX;
        int threadRow = tid / (BlockN / ThreadN), threadColumn = tid % (BlockN / ThreadN);
        int rowBase = Grid.IdxY * BlockM, columnBase = Grid.IdxX * BlockN;

        // Which float4 each thread stages: A is 128 rows × 2 float4; B is 8 rows × 32 float4.
        int loadRowA = tid / (BlockK / 4), loadColumnA = tid % (BlockK / 4);
        int loadRowB = tid / (BlockN / 4), loadColumnB = tid % (BlockN / 4);

        for (int e = 0; e < ThreadM * ThreadN; e++) accumulator[e] = 0f;

        for (int kBase = 0; kBase < k; kBase += BlockK)
        {
            // ---- stage one K-slice of A (transposed) and B in shared memory ----
            Float4 va = aVectors[((rowBase + loadRowA) * k + kBase) / 4 + loadColumnA];
            tileA[(loadColumnA * 4 + 0) * BlockM + loadRowA] = va.X;
            tileA[(loadColumnA * 4 + 1) * BlockM + loadRowA] = va.Y;
            tileA[(loadColumnA * 4 + 2) * BlockM + loadRowA] = va.Z;
            tileA[(loadColumnA * 4 + 3) * BlockM + loadRowA] = va.W;
            tileBVectors[loadRowB * (BlockN / 4) + loadColumnB] = bVectors[((kBase + loadRowB) * n + columnBase) / 4 + loadColumnB];
            Group.Barrier();

            // ---- 8 outer products of an 8-vector of A and an 8-vector of B ----
            for (int kk = 0; kk < BlockK; kk++)
            {
                for (int v = 0; v < ThreadM / 4; v++)
                {
                    Float4 fa = tileAVectors[(kk * BlockM + threadRow * ThreadM) / 4 + v];
                    fragmentA[v * 4 + 0] = fa.X; fragmentA[v * 4 + 1] = fa.Y; fragmentA[v * 4 + 2] = fa.Z; fragmentA[v * 4 + 3] = fa.W;
                    Float4 fb = tileBVectors[(kk * BlockN + threadColumn * ThreadN) / 4 + v];
                    fragmentB[v * 4 + 0] = fb.X; fragmentB[v * 4 + 1] = fb.Y; fragmentB[v * 4 + 2] = fb.Z; fragmentB[v * 4 + 3] = fb.W;
                }
                for (int i = 0; i < ThreadM; i++)
                    for (int j = 0; j < ThreadN; j++)
                        accumulator[i * ThreadN + j] = XMath.Fma(fragmentA[i], fragmentB[j], accumulator[i * ThreadN + j]);
            }
            Group.Barrier();
        }

        // ---- write the 8×8 block, two float4 per row ----
        var cVectors = c.Cast<Float4>();
        for (int i = 0; i < ThreadM; i++)
        {
            int row = rowBase + threadRow * ThreadM + i;
            for (int v = 0; v < ThreadN / 4; v++)
            {
                int o = i * ThreadN + v * 4;
                cVectors[(row * n + columnBase + threadColumn * ThreadN) / 4 + v] =
                    new Float4(accumulator[o], accumulator[o + 1], accumulator[o + 2], accumulator[o + 3]);
            }
        }
    }
}
