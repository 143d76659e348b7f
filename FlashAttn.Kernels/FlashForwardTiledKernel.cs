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
/// Grid (⌈s_q/64⌉, h_q, b), <see cref="ForwardRegisterTile.Threads"/> threads,
/// <see cref="ForwardRegisterTile.SharedBytes"/> of dynamic shared memory. Q tiles are visited last-first so
/// that, under a causal mask, the longest rows start first.
/// </summary>
internal static class FlashForwardTiledKernel
{
    private const int Br = ForwardRegisterTile.BlockRows, Bc = ForwardRegisterTile.BlockCols;
    private const int RowsPerThread = ForwardRegisterTile.RowsPerThread, KeysPerThread = ForwardRegisterTile.KeysPerThread;
    private const int RowThreads = ForwardRegisterTile.RowThreads, ColumnThreads = ForwardRegisterTile.ColumnThreads;

    /// <summary>
    /// The kernel. q (b, s_q, h_q, d), k and v (b, s_k, h_kv, d), output (b, s_q, h_q, d), lse (b, h_q, s_q) fp32.
    /// <paramref name="headDimPadded"/> is <see cref="ForwardRegisterTile.PaddedHeadDim"/>(d).
    /// </summary>
    [LaunchBounds(ForwardRegisterTile.Threads, 2)]
    public static void Forward<T, TStorage>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output,
        ArrayView<float> lse, AttentionParams p, SpecializedValue<int> headDimPadded, SpecializedValue<bool> causal)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int dPad = headDimPadded.Value, outChunks = dPad / (4 * ColumnThreads);
        bool isCausal = causal.Value;
        // thread (ty, tx): the 16 tx of a row group are 16 consecutive lanes, so row reductions are butterflies
        int lane = Group.IdxX % Warp.Size;
        int tx = lane % ColumnThreads, ty = Group.IdxX / Warp.Size * (Warp.Size / ColumnThreads) + lane / ColumnThreads;
        int q0 = (Grid.DimX - 1 - Grid.IdxX) * Br, head = Grid.IdxY, batch = Grid.IdxZ;
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

        // ---- K/V range as in FlashForwardKernel: causal stops at the last visible key of row q0 + Br − 1 ----
        int kvEnd = isCausal ? XMath.Min(p.SeqLenK, q0 + Br + p.CausalOffset) : p.SeqLenK;
        int kvBlocks = kvEnd > 0 ? (kvEnd + Bc - 1) / Bc : 0;
        int maskFrom = isCausal ? XMath.Max(0, XMath.Min(p.SeqLenK, q0 + p.CausalOffset + 1)) : p.SeqLenK;
        int firstMaskedBlock = maskFrom / Bc;

        // ---- prologue: Q_i and K_0 in flight ----
        long qRowStride = (long)p.HeadsQ * p.HeadDim, kvRowStride = (long)p.HeadsKV * p.HeadDim;
        long qFirst = (((long)batch * p.SeqLenQ + q0) * p.HeadsQ + head) * p.HeadDim;
        long kvBase = ((long)batch * p.SeqLenK * p.HeadsKV + kvHead) * p.HeadDim;
        Stage<T, TStorage>(q, qFirst, qRowStride, XMath.Min(Br, p.SeqLenQ - q0), p.HeadDim, qTile, dPad, Br, dPad);
        if (kvBlocks > 0)
            Stage<T, TStorage>(k, kvBase, kvRowStride, XMath.Min(Bc, p.SeqLenK), p.HeadDim, kTile, dPad + 4, Bc, dPad);

        for (int block = 0; block < kvBlocks; block++)
        {
            int k0 = block * Bc;
            long kvFirst = kvBase + k0 * kvRowStride;
            // K_j has landed, and every thread is done with V_{j−1} and P: V_j may stream in during S = Q K_jᵀ
            AsyncCopy.WaitAll();
            Group.Barrier();
            Stage<T, TStorage>(v, kvFirst, kvRowStride, XMath.Min(Bc, p.SeqLenK - k0), p.HeadDim, vTile, dPad, Bc, dPad);

            if (block < firstMaskedBlock)
                ScoresToProbabilities<FullBlock>(p, q0, k0, isCausal, dPad, tx, ty, qTile, kTile, pTile, scores, acc, rowMax, rowSum, outChunks);
            else
                ScoresToProbabilities<MaskedBlock>(p, q0, k0, isCausal, dPad, tx, ty, qTile, kTile, pTile, scores, acc, rowMax, rowSum, outChunks);

            // V_j and P are visible, K_j is free: K_{j+1} streams in during O += P V_j
            AsyncCopy.WaitAll();
            Group.Barrier();
            if (block + 1 < kvBlocks)
                Stage<T, TStorage>(k, kvFirst + Bc * kvRowStride, kvRowStride, XMath.Min(Bc, p.SeqLenK - k0 - Bc), p.HeadDim,
                    kTile, dPad + 4, Bc, dPad);
            AccumulateProbabilitiesTimesValues(tx, ty, dPad, pTile, vTile, acc, outChunks);
        }

        // ---- epilogue: O_i = acc / ℓ_i, L_i = (m_i + log2 ℓ_i) · ln 2 ----
        for (int i = 0; i < RowsPerThread; i++)
        {
            int localRow = ty + i * RowThreads, row = q0 + localRow;
            if (row >= p.SeqLenQ) continue;
            bool empty = rowSum[i] == 0f; // no visible key: O = 0, L = +∞
            float inverse = empty ? 0f : 1f / rowSum[i];
            long oFirst = qFirst + localRow * qRowStride;
            for (int c = 0; c < outChunks; c++)
                for (int e = 0; e < 4; e++)
                {
                    int col = 4 * (tx + c * ColumnThreads) + e;
                    if (col < p.HeadDim) output[oFirst + col] = TStorage.Store(acc[(i * outChunks + c) * 4 + e] * inverse);
                }
            if (tx == 0)
                lse[((long)batch * p.HeadsQ + head) * p.SeqLenQ + row] =
                    empty ? float.PositiveInfinity : (rowMax[i] + XMath.Log2(rowSum[i])) * SoftmaxConstants.Ln2;
        }
    }

    /// <summary>
    /// Starts staging <paramref name="rows"/> rows (of which <paramref name="validRows"/> exist) of d elements into a
    /// shared tile of <paramref name="width"/> columns and row stride <paramref name="stride"/>, in 4-element chunks;
    /// missing rows and columns are zero. The caller waits (<see cref="AsyncCopy.WaitAll"/>) and places the barrier.
    /// </summary>
    private static void Stage<T, TStorage>(ArrayView<T> source, long first, long rowStride, int validRows, int headDim,
        ArrayView<float> tile, int stride, int rows, int width)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int chunksPerRow = width / 4;
        for (int chunk = Group.IdxX; chunk < rows * chunksPerRow; chunk += ForwardRegisterTile.Threads)
        {
            int r = chunk / chunksPerRow, c = 4 * (chunk % chunksPerRow);
            bool fetch = r < validRows && c < headDim;
            TStorage.StageFour(source, fetch ? first + r * rowStride + c : first, fetch, tile, r * stride + c);
        }
    }

    /// <summary>
    /// S = Q K_jᵀ for this thread's 8 rows (ty + 8i) × 4 keys (tx + 16j), in the log2 domain and masked; then the
    /// online softmax: m_new = max(m, rowmax S), P = exp2(S − m_new) into the shared P tile, ℓ and O rescaled.
    /// </summary>
    private static void ScoresToProbabilities<TMask>(AttentionParams p, int q0, int k0, bool isCausal, int dPad, int tx, int ty,
        ArrayView<float> qTile, ArrayView<float> kTile, ArrayView<float> pTile, ArrayView<float> scores,
        ArrayView<float> acc, ArrayView<float> rowMax, ArrayView<float> rowSum, int outChunks)
        where TMask : struct, IBlockMask
    {
        var qVectors = qTile.Cast<Float4>();
        var kVectors = kTile.Cast<Float4>();
        int qRowVectors = dPad / 4, kRowVectors = (dPad + 4) / 4;
        var keyFragment = LocalMemory.Allocate<Float4>(KeysPerThread);
        TileMath.Fill(scores, RowsPerThread * KeysPerThread, 0f);
        for (int c = 0; c < dPad / 4; c++)
        {
            // shared loads are not merged by the compiler: each fragment is loaded once per step, explicitly
            for (int j = 0; j < KeysPerThread; j++) keyFragment[j] = kVectors[(tx + j * ColumnThreads) * kRowVectors + c];
            for (int i = 0; i < RowsPerThread; i++)
            {
                Float4 qv = qVectors[(ty + i * RowThreads) * qRowVectors + c];
                for (int j = 0; j < KeysPerThread; j++)
                {
                    Float4 kv = keyFragment[j];
                    float s = scores[i * KeysPerThread + j];
                    s = XMath.Fma(qv.X, kv.X, s);
                    s = XMath.Fma(qv.Y, kv.Y, s);
                    s = XMath.Fma(qv.Z, kv.Z, s);
                    scores[i * KeysPerThread + j] = XMath.Fma(qv.W, kv.W, s);
                }
            }
        }

        for (int i = 0; i < RowsPerThread; i++)
        {
            int row = q0 + ty + i * RowThreads;
            for (int j = 0; j < KeysPerThread; j++)
            {
                float s = scores[i * KeysPerThread + j] * p.ScaleLog2;
                if (TMask.Enabled && !p.Visible(row, k0 + tx + j * ColumnThreads, isCausal)) s = float.NegativeInfinity;
                scores[i * KeysPerThread + j] = s;
            }
            float correction = OnlineSoftmax.Update(scores, i * KeysPerThread, KeysPerThread, pTile,
                (ty + i * RowThreads) * Bc + tx, ColumnThreads, rowMax, rowSum, i, ColumnThreads);
            for (int e = 0; e < 4 * outChunks; e++) acc[i * 4 * outChunks + e] *= correction;
        }
    }

    /// <summary>O += P V_j: this thread's 8 rows × 4·outChunks columns (chunks tx + 16c), four keys per step.</summary>
    private static void AccumulateProbabilitiesTimesValues(int tx, int ty, int dPad, ArrayView<float> pTile, ArrayView<float> vTile,
        ArrayView<float> acc, int outChunks)
    {
        var pVectors = pTile.Cast<Float4>();
        var vVectors = vTile.Cast<Float4>();
        var valueFragment = LocalMemory.Allocate<Float4>(4 * ForwardRegisterTile.MaxOutChunks);
        int vRowVectors = dPad / 4;
        for (int keys = 0; keys < Bc / 4; keys++)
        {
            // V rows 4·keys … 4·keys+3, this thread's column chunks: loaded once, used by all 8 rows
            for (int e = 0; e < 4; e++)
                for (int c = 0; c < outChunks; c++)
                    valueFragment[e * outChunks + c] = vVectors[(4 * keys + e) * vRowVectors + tx + c * ColumnThreads];
            for (int i = 0; i < RowsPerThread; i++)
            {
                Float4 pv = pVectors[(ty + i * RowThreads) * (Bc / 4) + keys];
                for (int c = 0; c < outChunks; c++)
                {
                    int o = (i * outChunks + c) * 4;
                    MultiplyAdd(acc, o, pv.X, valueFragment[c]);
                    MultiplyAdd(acc, o, pv.Y, valueFragment[outChunks + c]);
                    MultiplyAdd(acc, o, pv.Z, valueFragment[2 * outChunks + c]);
                    MultiplyAdd(acc, o, pv.W, valueFragment[3 * outChunks + c]);
                }
            }
        }
    }

    /// <summary>acc[o … o+3] += weight · value.</summary>
    private static void MultiplyAdd(ArrayView<float> acc, int o, float weight, Float4 value)
    {
        acc[o] = XMath.Fma(weight, value.X, acc[o]);
        acc[o + 1] = XMath.Fma(weight, value.Y, acc[o + 1]);
        acc[o + 2] = XMath.Fma(weight, value.Z, acc[o + 2]);
        acc[o + 3] = XMath.Fma(weight, value.W, acc[o + 3]);
    }
}
