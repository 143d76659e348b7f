using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// The forward on Hopper (FlashAttention-3's design, Shah et al. 2024): warp specialisation, TMA and warpgroup MMA, fp16/bf16
/// in, fp32 accumulation, d ∈ {64, 128}. Notation as <see cref="FlashForwardTensorCoreKernel"/>: S = Q K_jᵀ, m = running
/// row max, ℓ = running row sum, O unnormalised.
/// <list type="bullet">
/// <item>Three warpgroups: warpgroup 0 produces (its registers lowered to <see cref="ProducerRegisters"/>), one thread
/// issuing every copy by the tensor memory accelerator: Q_i once, then K_j and V_j into a ring of <see cref="Stages"/>
/// stages, each on its own "full" mbarrier, a stage refilled once its "empty" barrier says both consumers are done with it.
/// Warpgroups 1 and 2 consume (registers raised to <see cref="ConsumerRegisters"/>), 64 query rows each.</item>
/// <item>Tiles land 128-byte swizzled in panels of 64 head dims (<see cref="PanelHalves"/>; d = 128: two), rows of 128
/// bytes, the K-major layout wgmma reads: S = Q K_jᵀ is m64n128k16 per k step with Q and K from shared memory, and
/// O += P V_j m64n{d}k16 per 16 keys with P from registers (S's accumulators rounded: the A fragment layout is the
/// accumulators' own) and V_j read MN-major (transposed) where it lies.</item>
/// <item>The online softmax runs on S's accumulators as in the FA2 kernel (<see cref="FragmentSoftmax"/>: a warpgroup's
/// accumulators are, per warp, the m16n8 tiles of mma.sync); K_j's edge test as <see cref="AttentionMask"/> says.</item>
/// </list>
/// Grid (⌈s_q/Br⌉, h_q, b) in <see cref="TileOrder"/>'s order. Dense (b, s, h, d) or (b, h, s, d) tensors whose strides are
/// multiples of 8 elements (the maps' rule): <see cref="Takes"/>. No modifiers, dropout or split-KV yet: those calls keep
/// the FA2 kernel.
/// </summary>
internal static class FlashForwardWarpGroupKernel
{
    /// <summary>Consumer warpgroups (64 query rows each).</summary>
    public const int ConsumerGroups = 2;

    /// <summary>Threads of a group: the producer warpgroup and the consumers.</summary>
    public const int Threads = (1 + ConsumerGroups) * WarpGroupMma.Threads;

    /// <summary>Query rows of a group (Br) and keys of a block (Bc).</summary>
    public const int BlockRows = 64 * ConsumerGroups, BlockCols = 128;

    /// <summary>Stages of the K/V ring.</summary>
    public const int Stages = 2;

    /// <summary>Head dims of one panel: a 128-byte swizzled row.</summary>
    public const int PanelHalves = 64;

    /// <summary>Registers per thread of the producer and of the consumers (setmaxnreg; 128·24 + 256·240 ≤ 64 K).</summary>
    public const int ProducerRegisters = 24, ConsumerRegisters = 240;

    private const int RowBytes = 2 * PanelHalves, AtomBytes = 8 * RowBytes;

    /// <summary>True for the calls this kernel takes: fp16/bf16 with d of 64 or 128 on an sm_90 device (the caller checks the
    /// storage and the device).</summary>
    public static bool Takes(int headDim) => headDim is 64 or 128;

    /// <summary>Dynamic shared memory: Q, then the stages' K and V, and the slack that aligns the first to 1024 bytes.</summary>
    public static int SharedBytes(int headDim) => AtomBytes + 2 * headDim * (BlockRows + 2 * Stages * BlockCols);

    /// <summary>The map of a q/k/v-like tensor: dimensions (d, heads, positions, batches), boxes of one panel × 1 head ×
    /// <paramref name="boxRows"/> positions × 1 batch.</summary>
    public static TensorMap Map<T>(ArrayView<T> data, TokenLayout layout, int batches, int positions, int heads, int headDim, int boxRows)
        where T : unmanaged
        => TensorMap.Tiled(data, [headDim, heads, positions, batches], [layout.HeadStride, layout.PositionStride, layout.BatchStride],
            [PanelHalves, 1, boxRows, 1], SharedSwizzle.Bytes128);

    /// <summary>
    /// The kernel. <paramref name="qMap"/>, <paramref name="kMap"/>, <paramref name="vMap"/> from <see cref="Map{T}"/> (boxes of
    /// Br rows for Q, Bc for K and V); output like q; lse (b, h_q, s_q) fp32, natural log. <paramref name="headDim"/> 64 or
    /// 128, <typeparamref name="TOutput"/> its accumulators (<see cref="Floats32"/>, <see cref="Floats64"/>).
    /// </summary>
    [LaunchBounds(Threads, 1)]
    public static void Forward<T, TStorage, TOutput>(TensorMap qMap, TensorMap kMap, TensorMap vMap, ArrayView<T> output, ArrayView<float> lse,
        AttentionParams p, int tailUnits, SpecializedValue<int> headDim, SpecializedValue<bool> causal)
        where T : unmanaged where TStorage : struct, IHalfStorage<T> where TOutput : unmanaged, IWarpGroupAccumulators
    {
        int d = headDim.Value, panels = d / PanelHalves, kSteps = d / 16, keySteps = BlockCols / 16;
        int qBytes = 2 * BlockRows * d, tileBytes = 2 * BlockCols * d, stageBytes = 2 * tileBytes;
        // barriers: Q full, then per stage K full, V full, empty
        var barriers = SharedMemory.Allocate<ulong>(1 + 3 * Stages);
        var shared = SharedMemory.GetDynamic<T>();
        uint window = SharedMemory.AddressOf(ref shared[0]);
        int first = (int)((AtomBytes - window % AtomBytes) % AtomBytes); // bytes to the first 1024-aligned address
        uint qTile = window + (uint)first;

        var order = TileOrder.Current(causal.Value, tailUnits);
        int q0 = (Grid.DimX - 1 - order.Rank) * BlockRows, head = order.Y, batch = order.Z, kvHead = head / p.QueriesPerKvHead;
        var mask = AttentionMask.Of(p, causal.Value);
        int firstBlock = mask.FirstKeyBlock(q0, BlockCols), endBlock = XMath.Max(firstBlock, mask.KeyBlockCount(q0, BlockRows, BlockCols));
        int thread = Group.IdxX, warpGroup = thread / WarpGroupMma.Threads;
        if (thread == 0)
        {
            MBarrier.Init(ref barriers[0], 1);
            for (int stage = 0; stage < Stages; stage++)
            {
                MBarrier.Init(ref barriers[1 + 3 * stage], 1);
                MBarrier.Init(ref barriers[2 + 3 * stage], 1);
                MBarrier.Init(ref barriers[3 + 3 * stage], ConsumerGroups * WarpGroupMma.Threads);
            }
        }
        Group.Barrier();

        // ---- producer: Q_i, then K_j and V_j of each block into the ring, a stage refilled once both consumers released it ----
        if (warpGroup == 0)
        {
            WarpGroup.DecreaseRegisters(ProducerRegisters);
            if (thread == 0)
            {
                MBarrier.ArriveExpectTransaction(ref barriers[0], qBytes);
                for (int panel = 0; panel < panels; panel++)
                    TensorCopy.Load(ref shared[(first + panel * BlockRows * RowBytes) / 2], in qMap, PanelHalves * panel, head, q0, batch, ref barriers[0]);
                for (int block = firstBlock, iteration = 0; block < endBlock; block++, iteration++)
                {
                    int stage = iteration % Stages, k0 = block * BlockCols, kOffset = first + qBytes + stage * stageBytes;
                    if (iteration >= Stages) MBarrier.WaitParity(ref barriers[3 + 3 * stage], (iteration / Stages - 1) & 1);
                    MBarrier.ArriveExpectTransaction(ref barriers[1 + 3 * stage], tileBytes);
                    for (int panel = 0; panel < panels; panel++)
                        TensorCopy.Load(ref shared[(kOffset + panel * BlockCols * RowBytes) / 2], in kMap, PanelHalves * panel, kvHead, k0, batch, ref barriers[1 + 3 * stage]);
                    MBarrier.ArriveExpectTransaction(ref barriers[2 + 3 * stage], tileBytes);
                    for (int panel = 0; panel < panels; panel++)
                        TensorCopy.Load(ref shared[(kOffset + tileBytes + panel * BlockCols * RowBytes) / 2], in vMap, PanelHalves * panel, kvHead, k0, batch,
                            ref barriers[2 + 3 * stage]);
                }
            }
            return;
        }

        // ---- consumers: warpgroup c takes rows 64(c − 1) …; each warp 16 of them, a lane rows g and g + 8 ----
        WarpGroup.IncreaseRegisters(ConsumerRegisters);
        int consumer = warpGroup - 1, warp = thread / 32 % 4, lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        int warpRow = 64 * consumer + 16 * warp;
        uint qRows = qTile + (uint)(consumer * 64 * RowBytes);
        var s = LocalMemory.Allocate<float>(BlockCols / 2);
        var o = LocalMemory.Allocate<float>(d / 2);
        var pFragments = LocalMemory.Allocate<int>(BlockCols / 4);
        var rowMax = LocalMemory.Allocate<float>(2);
        var rowSum = LocalMemory.Allocate<float>(2);
        for (int r = 0; r < 2; r++) { rowMax[r] = float.NegativeInfinity; rowSum[r] = 0f; }
        var accumulators = default(TOutput);
        MBarrier.WaitParity(ref barriers[0], 0);
        for (int block = firstBlock, iteration = 0; block < endBlock; block++, iteration++)
        {
            int stage = iteration % Stages, parity = iteration / Stages & 1, k0 = block * BlockCols;
            uint kTile = qTile + (uint)(qBytes + stage * stageBytes), vTile = kTile + (uint)tileBytes;

            // ---- S = Q K_jᵀ: per k step, Q's and K's columns 16kk … of panel kk / 4 ----
            MBarrier.WaitParity(ref barriers[1 + 3 * stage], parity);
            var scores = default(Floats64);
            WarpGroupMma.Fence();
            for (int kk = 0; kk < kSteps; kk++)
            {
                uint column = (uint)(32 * (kk % 4));
                scores = TStorage.MultiplyAddWarpGroup(
                    WarpGroupMma.Descriptor(qRows + (uint)(kk / 4 * BlockRows * RowBytes) + column, SharedSwizzle.Bytes128, 16, AtomBytes),
                    WarpGroupMma.Descriptor(kTile + (uint)(kk / 4 * BlockCols * RowBytes) + column, SharedSwizzle.Bytes128, 16, AtomBytes),
                    kk > 0, scores, false);
            }
            WarpGroupMma.Commit();
            WarpGroupMma.Wait(0);

            // ---- mask on the blocks that cross an edge; online softmax: P = exp2(S·scale − m_new), ℓ and O rescaled ----
            for (int e = 0; e < BlockCols / 2; e++) s[e] = scores[e];
            if (mask.BlockNeedsMask(q0, BlockRows, k0, BlockCols))
                for (int e = 0; e < BlockCols / 2; e++)
                    if (!mask.Visible(q0 + warpRow + g + 8 * (e / 2 % 2), k0 + 8 * (e / 4) + 2 * t + e % 2)) s[e] = float.NegativeInfinity;
            for (int e = 0; e < d / 2; e++) o[e] = accumulators[e];
            FragmentSoftmax.Update(s, o, rowMax, rowSum, 1, BlockCols / 8, d / 8, p.ScaleLog2);
            for (int e = 0; e < d / 2; e++) accumulators[e] = o[e];
            for (int kk = 0; kk < keySteps; kk++) TStorage.AccumulatorsAsA(s, kk, pFragments, kk);

            // ---- O += P V_j: keys 16kk … are V's rows 16kk …, its head dims the product's n (MN-major, panels 64 apart) ----
            MBarrier.WaitParity(ref barriers[2 + 3 * stage], parity);
            WarpGroupMma.Fence();
            for (int kk = 0; kk < keySteps; kk++)
                accumulators = TStorage.MultiplyAddWarpGroup(
                    new Int4(pFragments[4 * kk], pFragments[4 * kk + 1], pFragments[4 * kk + 2], pFragments[4 * kk + 3]),
                    WarpGroupMma.Descriptor(vTile + (uint)(2 * kk * AtomBytes), SharedSwizzle.Bytes128, BlockCols * RowBytes, AtomBytes),
                    true, accumulators, true);
            WarpGroupMma.Commit();
            WarpGroupMma.Wait(0);
            MBarrier.Arrive(ref barriers[3 + 3 * stage]);
        }

        // ---- epilogue: O_i = O / ℓ_i, L_i = (m_i + log2 ℓ_i) · ln 2; a row that saw no key gets O = 0, L = +∞ ----
        var seq = SequenceInfo.Dense.Bounds(batch, p, SequenceKind.Dense);
        var qLayout = TokenLayout.Queries(p);
        var statistics = RowStatisticsLayout.Of(p);
        for (int r = 0; r < 2; r++)
        {
            float sum = RowReduce.Sum(rowSum[r], 4);
            int row = q0 + warpRow + g + 8 * r;
            if (row >= p.SeqLenQ) continue;
            bool empty = sum == 0f;
            float inverse = empty ? 0f : 1f / sum;
            long outFirst = seq.QueryRowStart(qLayout, row, head);
            for (int j = 0; j < d / 8; j++)
                TStorage.StorePair(output, outFirst + 8 * j + 2 * t, accumulators[4 * j + 2 * r] * inverse, accumulators[4 * j + 2 * r + 1] * inverse);
            if (t == 0) lse[seq.StatisticIndex(statistics, head, row)] = empty ? float.PositiveInfinity : (rowMax[r] + XMath.Log2(sum)) * SoftmaxConstants.Ln2;
        }
    }
}
