using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// FlashAttention-2 forward (Dao 2023, Algorithm 1), register-tiled: the fast path for head dims that are
/// multiples of 4 up to 128 (<see cref="ForwardRegisterTile"/>). Same algorithm and notation as
/// <see cref="FlashForwardKernel"/>; what differs is how the two matrix products are fed:
/// <list type="bullet">
/// <item>each thread owns an 8 × 4 block of S and an 8 × (d/16) block of O, and reads its operands as
/// 16-byte shared loads, so one load feeds 4–8 FFMAs (SGEMM-style register blocking);</item>
/// <item>tiles are staged with <see cref="AsyncCopy"/> (cp.async) for fp32, so global loads overlap the
/// arithmetic: V_j streams in while S = Q K_jᵀ is computed, K_{j+1} while O += P V_j;</item>
/// <item>two barriers per K/V tile.</item>
/// </list>
/// Grid (h_q, b, ⌈s_q/64⌉), <see cref="ForwardRegisterTile.Threads"/> threads,
/// <see cref="ForwardRegisterTile.SharedBytes"/> of dynamic shared memory. Q tiles are visited last-first so
/// that, under a causal mask, the longest rows start first. Takes no sliding-window call (its masking knows only the
/// causal diagonal): the launcher sends those to <see cref="FlashForwardKernel"/>.
/// </summary>
internal static class FlashForwardTiledKernel
{
    private const int Br = ForwardRegisterTile.BlockRows, Bc = ForwardRegisterTile.BlockCols;
    private const int RowsPerThread = ForwardRegisterTile.RowsPerThread, KeysPerThread = ForwardRegisterTile.KeysPerThread;
    private const int RowThreads = ForwardRegisterTile.RowThreads, ColumnThreads = ForwardRegisterTile.ColumnThreads;

    /// <summary>
    /// The kernel. q (b, s_q, h_q, d), k and v (b, s_k, h_kv, d), output (b, s_q, h_q, d), lse (b, h_q, s_q) fp32
    /// (or q, k, v, output (b, h, s, d): <see cref="TokenLayout"/>).
    /// <paramref name="headDimPadded"/> is <see cref="ForwardRegisterTile.PaddedHeadDim"/>(d).
    /// </summary>
    [LaunchBounds(ForwardRegisterTile.Threads, 2)]
    public static void Forward<T, TStorage>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output,
        ArrayView<float> lse, AttentionParams p, SpecializedValue<int> headDimPadded, SpecializedValue<bool> causal)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int dPad = headDimPadded.Value, outChunks = dPad / (4 * ColumnThreads);
        var mask = AttentionMask.Of(p, causal.Value);
        // thread (ty, tx): the 16 tx of a row group are 16 consecutive lanes of one warp, so row reductions are butterflies
        int tx = Group.IdxX % ColumnThreads, ty = Group.IdxX / ColumnThreads;
        // grid (h_q, b, Q tiles): the Q tile index varies slowest and runs last-first, so the first wave holds the
        // longest causal rows of every head and the short ones fill the tail
        int head = Grid.IdxX, batch = Grid.IdxY, q0 = (Grid.DimZ - 1 - Grid.IdxZ) * Br;
        int kvHead = head / p.QueriesPerKvHead;

        var shared = SharedMemory.GetDynamic<float>();
        var qTile = shared.SubView(0, Br * dPad);
        var kTile = shared.SubView(Br * dPad, Bc * (dPad + 4));
        var vTile = shared.SubView(Br * dPad + Bc * (dPad + 4), Bc * dPad);
        var pTile = shared.SubView(Br * dPad + Bc * (dPad + 4) + Bc * dPad, Br * Bc);

        var acc = LocalMemory.Allocate<float>(RowsPerThread * 4 * outChunks);
        var scores = LocalMemory.Allocate<float>(RowsPerThread * KeysPerThread);
        var rowMax = LocalMemory.Allocate<float>(RowsPerThread);
        var rowSum = LocalMemory.Allocate<float>(RowsPerThread);
        TileMath.Fill(acc, RowsPerThread * 4 * outChunks, 0f);
        TileMath.Fill(rowMax, RowsPerThread, float.NegativeInfinity);
        TileMath.Fill(rowSum, RowsPerThread, 0f);
        var state = new ForwardTiledState(tx, ty, dPad, qTile, kTile, vTile, pTile, scores, acc, rowMax, rowSum);

        // ---- K/V range as in FlashForwardKernel: causal stops at the last visible key of row q0 + Br − 1 ----
        int kvBlocks = mask.KeyBlockCount(q0, Br, Bc);
        int firstMaskedBlock = mask.FirstMaskedBlock(q0, Bc);

        // ---- prologue: Q_i and K_0 in flight ----
        var qLayout = TokenLayout.Queries(p);
        var kvLayout = TokenLayout.KeysValues(p);
        long qRowStride = qLayout.PositionStride, kvRowStride = kvLayout.PositionStride;
        long qFirst = qLayout.RowStart(batch, q0, head);
        long kvBase = kvLayout.RowStart(batch, 0, kvHead);
        TileLoader.StageChunks<T, TStorage>(q, qFirst, qRowStride, XMath.Min(Br, p.SeqLenQ - q0), p.HeadDim, qTile, dPad, Br, dPad, ForwardRegisterTile.Threads);
        if (kvBlocks > 0)
            TileLoader.StageChunks<T, TStorage>(k, kvBase, kvRowStride, XMath.Min(Bc, p.SeqLenK), p.HeadDim, kTile, dPad + 4, Bc, dPad, ForwardRegisterTile.Threads);

        for (int block = 0; block < kvBlocks; block++)
        {
            int k0 = block * Bc;
            long kvFirst = kvBase + k0 * kvRowStride;
            // K_j has landed, and every thread is done with V_{j−1} and P: V_j may stream in during S = Q K_jᵀ
            AsyncCopy.WaitAll();
            Group.Barrier();
            TileLoader.StageChunks<T, TStorage>(v, kvFirst, kvRowStride, XMath.Min(Bc, p.SeqLenK - k0), p.HeadDim, vTile, dPad, Bc, dPad, ForwardRegisterTile.Threads);

            // d' = 128: one rolled copy of S = Q Kᵀ, the mask behind a run-time branch; d' = 64: the unrolled product is
            // small enough to exist twice, and a copy for masked tiles was 2–3% faster (H100, see docs/performance.md)
            bool masked = block >= firstMaskedBlock;
            if (dPad <= 64 && masked)
                ScoresToProbabilities<MaskedBlock>(p, mask, q0, k0, false, state);
            else
                ScoresToProbabilities<FullBlock>(p, mask, q0, k0, masked, state);

            // V_j and P are visible, K_j is free: K_{j+1} streams in during O += P V_j
            AsyncCopy.WaitAll();
            Group.Barrier();
            if (block + 1 < kvBlocks)
                TileLoader.StageChunks<T, TStorage>(k, kvFirst + Bc * kvRowStride, kvRowStride, XMath.Min(Bc, p.SeqLenK - k0 - Bc), p.HeadDim,
                    kTile, dPad + 4, Bc, dPad, ForwardRegisterTile.Threads);
            AccumulateProbabilitiesTimesValues(state);
        }

        // ---- epilogue: O_i = acc / ℓ_i, L_i = (m_i + log2 ℓ_i) · ln 2 ----
        var statistics = RowStatisticsLayout.Of(p);
        for (int i = 0; i < RowsPerThread; i++)
        {
            float sum = OnlineSoftmax.RowSum(rowSum[i], ColumnThreads); // before the branch: the whole warp shuffles
            int localRow = ty + i * RowThreads, row = q0 + localRow;
            if (row >= p.SeqLenQ) continue;
            bool empty = sum == 0f; // no visible key: O = 0, L = +∞
            float inverse = empty ? 0f : 1f / sum;
            long oFirst = qFirst + localRow * qRowStride;
            for (int c = 0; c < outChunks; c++)
                for (int e = 0; e < 4; e++)
                {
                    int col = 4 * (tx + c * ColumnThreads) + e;
                    if (col < p.HeadDim) output[oFirst + col] = TStorage.Store(acc[(i * outChunks + c) * 4 + e] * inverse);
                }
            if (tx == 0)
                lse[statistics.Index(batch, head, row)] =
                    empty ? float.PositiveInfinity : (rowMax[i] + XMath.Log2(sum)) * SoftmaxConstants.Ln2;
        }
    }

    /// <summary>
    /// S = Q K_jᵀ for this thread's 8 rows (ty + 8i) × 4 keys (tx + 16j), in the log2 domain and masked; then the
    /// online softmax: m_new = max(m, rowmax S), P = exp2(S − m_new) into the shared P tile, ℓ and O rescaled.
    /// The mask applies when <typeparamref name="TMask"/> says so (a copy of the code per mask kind) or when
    /// <paramref name="maskAtRunTime"/> is true (one copy, a run-time branch): at d' = 128 two unrolled copies of the
    /// product made short causal rows, which switch between them, pay in instruction fetch (s=1024 causal 24 → 37 TFLOP/s
    /// with one rolled copy).
    /// </summary>
    private static void ScoresToProbabilities<TMask>(AttentionParams p, AttentionMask mask, int q0, int k0, bool maskAtRunTime,
        ForwardTiledState s)
        where TMask : struct, IBlockMask
    {
        int dPad = s.HeadDimPadded, tx = s.Tx, ty = s.Ty;
        var scores = s.Scores;
        TileMath.Fill(scores, RowsPerThread * KeysPerThread, 0f);
        RegisterTileMath.MultiplyABt(s.QTile.Cast<Float4>(), dPad / 4, ty, RowThreads, RowsPerThread,
            s.KTile.Cast<Float4>(), (dPad + 4) / 4, tx, ColumnThreads, KeysPerThread, dPad / 4, scores,
            ForwardRegisterTile.ScoreStepsPerIteration(dPad));

        for (int e = 0; e < RowsPerThread * KeysPerThread; e++) scores[e] *= p.ScaleLog2;
        if (TMask.Enabled || maskAtRunTime)
            for (int i = 0; i < RowsPerThread; i++)
                for (int j = 0; j < KeysPerThread; j++)
                    if (!mask.Visible(q0 + ty + i * RowThreads, k0 + tx + j * ColumnThreads))
                        scores[i * KeysPerThread + j] = float.NegativeInfinity;
        for (int i = 0; i < RowsPerThread; i++)
        {
            float correction = OnlineSoftmax.Update(scores, i * KeysPerThread, KeysPerThread, s.PTile,
                (ty + i * RowThreads) * Bc + tx, ColumnThreads, s.RowMax, s.RowSum, i, ColumnThreads);
            for (int e = 0; e < 4 * s.OutChunks; e++) s.Acc[i * 4 * s.OutChunks + e] *= correction;
        }
    }

    /// <summary>O += P V_j: this thread's 8 rows × 4·outChunks columns (chunks tx + 16c), four keys per step.</summary>
    private static void AccumulateProbabilitiesTimesValues(ForwardTiledState s)
        => RegisterTileMath.MultiplyAB(s.PTile.Cast<Float4>(), Bc / 4, s.Ty, RowThreads, RowsPerThread,
            s.VTile.Cast<Float4>(), s.HeadDimPadded / 4, s.Tx, ColumnThreads, s.OutChunks, Bc, s.Acc, ForwardRegisterTile.ValueStepsPerIteration(s.HeadDimPadded));
}
