using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// The forward on Hopper (FlashAttention-3's design, Shah et al. 2024): warp specialisation, TMA and warpgroup MMA, fp16/bf16
/// in, fp32 accumulation, d ∈ {64, 128, 256}; Br = 64 × consumers, Bc = 128 (80 at d = 256). Notation as
/// <see cref="FlashForwardTensorCoreKernel"/>: S = Q K_jᵀ, m = running row max, ℓ = running row sum, O unnormalised.
/// <list type="bullet">
/// <item>Warpgroup 0 produces (its registers lowered to <see cref="WarpGroupTile.ProducerRegisters"/>), one thread
/// issuing every copy by the tensor memory accelerator: Q_i once, then K_j and V_j, each into its own ring of
/// <see cref="Stages"/> stages on "full" mbarriers, a stage refilled once its "empty" barrier says every consumer is done
/// with it (K_{j+1} goes ahead of V_j: the order they are used in). Warpgroups 1, 2 (and 3 at d = 64: <see cref="WarpGroupTile"/>)
/// consume (registers raised to <see cref="WarpGroupTile.ConsumerRegisters"/>), 64 query rows each.</item>
/// <item>A consumer issues S_j = Q K_jᵀ, then O += P_{j−1} V_{j−1}, and waits for S_j alone: the softmax of block j runs
/// while the tensor cores do block j − 1's P·V (FA3's intra-warpgroup overlap); O is rescaled when that product is done.
/// With FA3's tiles two consumers take turns to issue their products (ping-pong, <see cref="AwaitTurn"/>).</item>
/// <item>Tiles land 128-byte swizzled in panels of 64 head dims (<see cref="PanelHalves"/>; d = 128: two), rows of 128
/// bytes, the K-major layout wgmma reads: S = Q K_jᵀ is m64n{Bc}k16 per k step with Q and K from shared memory, and
/// O += P V_j m64n{d}k16 per 16 keys with P from registers (S's accumulators rounded: the A fragment layout is the
/// accumulators' own) and V_j read MN-major (transposed) where it lies.</item>
/// <item>The online softmax runs on S's accumulators as in the FA2 kernel (<see cref="FragmentSoftmax"/>: a warpgroup's
/// accumulators are, per warp, the m16n8 tiles of mma.sync); K_j's edge test as <see cref="AttentionMask"/> says.</item>
/// </list>
/// Grid (⌈s_q/Br⌉, h_q, b) in <see cref="TileOrder"/>'s order. Dense (b, s, h, d) or (b, h, s, d) tensors whose strides are
/// multiples of 8 elements (the maps' rule), d as <see cref="WarpGroupTile.Covers"/> says. No modifiers, dropout or split-KV
/// yet: those calls keep the FA2 kernel.
/// </summary>
internal static class FlashForwardWarpGroupKernel
{
    private const int Stages = WarpGroupTile.Stages, PanelHalves = WarpGroupTile.PanelHalves;
    private const int RowBytes = WarpGroupTile.RowBytes, AtomBytes = WarpGroupTile.AtomBytes;

    /// <summary>The map of a q/k/v-like tensor: dimensions (d, heads, positions, batches), boxes of one panel × 1 head ×
    /// <paramref name="boxRows"/> positions × 1 batch.</summary>
    public static TensorMap Map<T>(ArrayView<T> data, TokenLayout layout, int batches, int positions, int heads, int headDim, int boxRows)
        where T : unmanaged
        => TensorMap.Tiled(data, [headDim, heads, positions, batches], [layout.HeadStride, layout.PositionStride, layout.BatchStride],
            [PanelHalves, 1, boxRows, 1], SharedSwizzle.Bytes128);

    /// <summary>
    /// The kernel with two consumer warpgroups (<see cref="WarpGroupTile.For"/>), taking turns when <paramref name="pingPong"/>. <paramref name="qMap"/>,
    /// <paramref name="kMap"/>, <paramref name="vMap"/> from <see cref="Map{T}"/> (boxes of Br rows for Q, Bc for K and V); output
    /// like q; lse (b, h_q, s_q) fp32, natural log. <typeparamref name="TScores"/>: Bc's accumulators (<see cref="Floats64"/>,
    /// <see cref="Floats40"/>); <typeparamref name="TOutput"/>: d's (<see cref="Floats32"/>, <see cref="Floats64"/>,
    /// <see cref="Floats128"/>).
    /// </summary>
    [LaunchBounds(WarpGroupTile.TwoConsumerThreads, 1)]
    public static void Forward<T, TStorage, TScores, TOutput>(TensorMap qMap, TensorMap kMap, TensorMap vMap, ArrayView<T> output, ArrayView<float> lse,
        AttentionParams p, int tailUnits, SpecializedValue<int> headDim, SpecializedValue<bool> causal, SpecializedValue<bool> pingPong)
        where T : unmanaged where TStorage : struct, IHalfStorage<T> where TScores : unmanaged, IWarpGroupAccumulators
        where TOutput : unmanaged, IWarpGroupAccumulators
        => Run<T, TStorage, TScores, TOutput>(new WarpGroupTile(headDim.Value, 2, pingPong.Value), in qMap, in kMap, in vMap, output, lse, p,
            tailUnits, causal.Value);

    /// <summary><see cref="Forward{T, TStorage, TScores, TOutput}"/> with three consumer warpgroups (d = 64 with FA3's tiles).</summary>
    [LaunchBounds(WarpGroupTile.ThreeConsumerThreads, 1)]
    public static void ForwardThreeConsumers<T, TStorage, TScores, TOutput>(TensorMap qMap, TensorMap kMap, TensorMap vMap, ArrayView<T> output,
        ArrayView<float> lse, AttentionParams p, int tailUnits, SpecializedValue<int> headDim, SpecializedValue<bool> causal)
        where T : unmanaged where TStorage : struct, IHalfStorage<T> where TScores : unmanaged, IWarpGroupAccumulators
        where TOutput : unmanaged, IWarpGroupAccumulators
        => Run<T, TStorage, TScores, TOutput>(new WarpGroupTile(headDim.Value, 3, false), in qMap, in kMap, in vMap, output, lse, p, tailUnits,
            causal.Value);

    private static void Run<T, TStorage, TScores, TOutput>(WarpGroupTile tile, in TensorMap qMap, in TensorMap kMap, in TensorMap vMap, ArrayView<T> output,
        ArrayView<float> lse, AttentionParams p, int tailUnits, bool causal)
        where T : unmanaged where TStorage : struct, IHalfStorage<T> where TScores : unmanaged, IWarpGroupAccumulators
        where TOutput : unmanaged, IWarpGroupAccumulators
    {
        int d = tile.HeadDim, panels = tile.Panels, blockRows = tile.BlockRows, blockCols = tile.BlockCols, qBytes = tile.QueryBytes, tileBytes = tile.KeyValueBytes;
        var barriers = SharedMemory.Allocate<ulong>(Barriers.Count);
        var shared = SharedMemory.GetDynamic<T>();
        uint window = SharedMemory.AddressOf(ref shared[0]);
        // shared: Q, the K ring, the V ring, from the first 1024-aligned byte (the swizzle's atoms)
        int first = (int)((AtomBytes - window % AtomBytes) % AtomBytes), kFirst = first + qBytes, vFirst = kFirst + Stages * tileBytes;

        var order = TileOrder.Current(causal, tailUnits);
        int q0 = (Grid.DimX - 1 - order.Rank) * blockRows, head = order.Y, batch = order.Z, kvHead = head / p.QueriesPerKvHead;
        var mask = AttentionMask.Of(p, causal);
        int firstBlock = mask.FirstKeyBlock(q0, blockCols), blocks = XMath.Max(firstBlock, mask.KeyBlockCount(q0, blockRows, blockCols)) - firstBlock;
        int thread = Group.IdxX, warpGroup = thread / WarpGroupMma.Threads;
        if (thread == 0) Barriers.Init(barriers, tile.ConsumerGroups, tile.PingPong);
        Group.Barrier();

        // ---- producer: Q_i; K_0; then K_{j+1} and V_j, in the order the consumers use them, each into its ring once every
        //      consumer released that stage ----
        if (warpGroup == 0)
        {
            WarpGroup.DecreaseRegisters(WarpGroupTile.ProducerRegisters);
            if (thread == 0)
            {
                MBarrier.ArriveExpectTransaction(ref barriers[Barriers.Q], qBytes);
                LoadPanels(shared, first, in qMap, panels, blockRows, q0, head, batch, ref barriers[Barriers.Q]);
                for (int j = -1; j < blocks; j++)
                {
                    if (j + 1 < blocks)
                    {
                        int stage = (j + 1) % Stages;
                        if (j + 1 >= Stages) MBarrier.WaitParity(ref barriers[Barriers.KeysEmpty + stage], ((j + 1) / Stages - 1) & 1);
                        MBarrier.ArriveExpectTransaction(ref barriers[Barriers.KeysFull + stage], tileBytes);
                        LoadPanels(shared, kFirst + stage * tileBytes, in kMap, panels, blockCols, (firstBlock + j + 1) * blockCols, kvHead, batch,
                            ref barriers[Barriers.KeysFull + stage]);
                    }
                    if (j >= 0)
                    {
                        int stage = j % Stages;
                        if (j >= Stages) MBarrier.WaitParity(ref barriers[Barriers.ValuesEmpty + stage], (j / Stages - 1) & 1);
                        MBarrier.ArriveExpectTransaction(ref barriers[Barriers.ValuesFull + stage], tileBytes);
                        LoadPanels(shared, vFirst + stage * tileBytes, in vMap, panels, blockCols, (firstBlock + j) * blockCols, kvHead, batch,
                            ref barriers[Barriers.ValuesFull + stage]);
                    }
                }
            }
            return;
        }

        // ---- consumers: warpgroup c takes rows 64(c − 1) …; each warp 16 of them, a lane rows g and g + 8. Block j's
        //      S = Q K_jᵀ is issued before block j − 1's O += P V_{j−1} and waited for first, so the softmax of S_j runs
        //      while the tensor cores do P V_{j−1} (FA3's intra-warpgroup overlap); O is rescaled once that is done ----
        WarpGroup.IncreaseRegisters(tile.ConsumerRegisters);
        int consumer = warpGroup - 1, warp = thread / 32 % 4, lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        int warpRow = 64 * consumer + 16 * warp;
        uint qRows = window + (uint)(first + consumer * 64 * RowBytes);
        var s = LocalMemory.Allocate<float>(blockCols / 2);
        var o = LocalMemory.Allocate<float>(d / 2);
        var pFragments = LocalMemory.Allocate<int>(blockCols / 4);
        var rowMax = LocalMemory.Allocate<float>(2);
        var rowSum = LocalMemory.Allocate<float>(2);
        var corrections = LocalMemory.Allocate<float>(2);
        for (int r = 0; r < 2; r++) { rowMax[r] = float.NegativeInfinity; rowSum[r] = 0f; }
        var accumulators = default(TOutput);
        MBarrier.WaitParity(ref barriers[Barriers.Q], 0);
        // block 0 alone (no P·V before it; O is 0, so its factor is not needed), then blocks 1 … with the overlap, then the
        // last block's P·V: no branch inside the loop, so O's registers go from product to product without copies
        bool pingPong = tile.PingPong;
        if (blocks > 0)
        {
            MBarrier.WaitParity(ref barriers[Barriers.KeysFull], 0);
            AwaitTurn(barriers, pingPong, consumer, 0);
            WarpGroupMma.Fence();
            var scores = Scores<T, TStorage, TScores>(qRows, window + (uint)kFirst, d, blockRows, blockCols);
            PassTurn(barriers, pingPong, consumer);
            WarpGroupMma.Wait(0);
            MBarrier.Arrive(ref barriers[Barriers.KeysEmpty]);
            Softmax(s, scores, rowMax, rowSum, corrections, mask, q0, blockRows, blockCols, warpRow, firstBlock * blockCols, p.ScaleLog2);
            for (int kk = 0; kk < blockCols / 16; kk++) TStorage.AccumulatorsAsA(s, kk, pFragments, kk);
        }
        for (int j = 1; j < blocks; j++)
        {
            int kStage = j % Stages, vStage = (j - 1) % Stages;
            MBarrier.WaitParity(ref barriers[Barriers.KeysFull + kStage], (j / Stages) & 1);
            AwaitTurn(barriers, pingPong, consumer, j);
            WarpGroupMma.Fence();
            var scores = Scores<T, TStorage, TScores>(qRows, window + (uint)(kFirst + kStage * tileBytes), d, blockRows, blockCols);
            MBarrier.WaitParity(ref barriers[Barriers.ValuesFull + vStage], ((j - 1) / Stages) & 1);
            accumulators = AddProbabilitiesTimesValues<T, TStorage, TOutput>(pFragments, window + (uint)(vFirst + vStage * tileBytes), accumulators, blockCols);
            PassTurn(barriers, pingPong, consumer);
            // S_j is the older group: wait for it alone, release K_j, and run its softmax while P_{j−1} V_{j−1} is in flight
            WarpGroupMma.Wait(1);
            MBarrier.Arrive(ref barriers[Barriers.KeysEmpty + kStage]);
            Softmax(s, scores, rowMax, rowSum, corrections, mask, q0, blockRows, blockCols, warpRow, (firstBlock + j) * blockCols, p.ScaleLog2);
            // ---- P V_{j−1} done: release V_{j−1}, rescale O, and P_j becomes the next product's A operand ----
            WarpGroupMma.Wait(0);
            MBarrier.Arrive(ref barriers[Barriers.ValuesEmpty + vStage]);
            for (int e = 0; e < d / 2; e++) o[e] = accumulators[e];
            FragmentSoftmax.Rescale(o, corrections, 1, d / 8);
            for (int e = 0; e < d / 2; e++) accumulators[e] = o[e];
            for (int kk = 0; kk < blockCols / 16; kk++) TStorage.AccumulatorsAsA(s, kk, pFragments, kk);
        }
        if (blocks > 0)
        {
            int vStage = (blocks - 1) % Stages;
            MBarrier.WaitParity(ref barriers[Barriers.ValuesFull + vStage], ((blocks - 1) / Stages) & 1);
            AwaitTurn(barriers, pingPong, consumer, blocks);
            WarpGroupMma.Fence();
            accumulators = AddProbabilitiesTimesValues<T, TStorage, TOutput>(pFragments, window + (uint)(vFirst + vStage * tileBytes), accumulators, blockCols);
            PassTurn(barriers, pingPong, consumer);
            WarpGroupMma.Wait(0);
            MBarrier.Arrive(ref barriers[Barriers.ValuesEmpty + vStage]);
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

    /// <summary>S_j's scores into <paramref name="s"/>, masked where block <paramref name="k0"/> crosses an edge, then the online
    /// softmax: P = exp2(S·scale − m_new) in place, m and ℓ updated, O's factor per row into <paramref name="corrections"/>.</summary>
    private static void Softmax<TScores>(ArrayView<float> s, TScores scores, ArrayView<float> rowMax, ArrayView<float> rowSum,
        ArrayView<float> corrections, AttentionMask mask, int q0, int blockRows, int blockCols, int warpRow, int k0, float scaleLog2)
        where TScores : unmanaged, IWarpGroupAccumulators
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        for (int e = 0; e < blockCols / 2; e++) s[e] = scores[e];
        if (mask.BlockNeedsMask(q0, blockRows, k0, blockCols))
            for (int e = 0; e < blockCols / 2; e++)
                if (!mask.Visible(q0 + warpRow + g + 8 * (e / 2 % 2), k0 + 8 * (e / 4) + 2 * t + e % 2)) s[e] = float.NegativeInfinity;
        FragmentSoftmax.UpdateScores(s, rowMax, rowSum, corrections, 1, blockCols / 8, scaleLog2);
    }

    /// <summary>
    /// FA3's ping-pong of two consumers: each issues its products only in its turn and passes the turn on once they are
    /// issued, so that one's products run while the other does its softmax. Consumer 0's turn t follows consumer 1's turn
    /// t − 1 (its first needs none), consumer 1's turn t follows consumer 0's turn t: turn barrier c completes a phase when
    /// the other consumer's 128 threads pass it a turn. A phase cannot be passed before the last one was seen: that takes
    /// the waiting consumer's own pass first. No turns with three consumers.
    /// </summary>
    private static void AwaitTurn(ArrayView<ulong> barriers, bool pingPong, int consumer, int turn)
    {
        if (!pingPong) return;
        if (consumer == 0)
        {
            if (turn > 0) MBarrier.WaitParity(ref barriers[Barriers.Turns], (turn - 1) & 1);
        }
        else MBarrier.WaitParity(ref barriers[Barriers.Turns + 1], turn & 1);
    }

    /// <summary>Ends this consumer's turn (<see cref="AwaitTurn"/>): its products are issued.</summary>
    private static void PassTurn(ArrayView<ulong> barriers, bool pingPong, int consumer)
    {
        if (pingPong) MBarrier.Arrive(ref barriers[Barriers.Turns + 1 - consumer]);
    }

    /// <summary>The group's mbarriers: Q full, then per stage K full, V full, K empty, V empty, then the two consumers' turns.</summary>
    private static class Barriers
    {
        public const int Q = 0, KeysFull = 1, ValuesFull = KeysFull + Stages, KeysEmpty = ValuesFull + Stages, ValuesEmpty = KeysEmpty + Stages;
        public const int Turns = ValuesEmpty + Stages, Count = Turns + 2;

        /// <summary>One thread: a full barrier waits for the producer's one arrival (and its bytes), an empty one for every
        /// consumer thread, a turn (with ping-pong) for the other consumer's threads.</summary>
        public static void Init(ArrayView<ulong> barriers, int consumerGroups, bool pingPong)
        {
            for (int b = Q; b < KeysEmpty; b++) MBarrier.Init(ref barriers[b], 1);
            for (int b = KeysEmpty; b < Turns; b++) MBarrier.Init(ref barriers[b], consumerGroups * WarpGroupMma.Threads);
            for (int b = Turns; b < Count && pingPong; b++) MBarrier.Init(ref barriers[b], WarpGroupMma.Threads);
        }
    }

    /// <summary>A tile of <paramref name="rows"/> positions from <paramref name="row0"/> of one head, panel by panel (64 head dims,
    /// <paramref name="rows"/> × 128 bytes each) from byte <paramref name="offset"/> of the shared window on: one thread.</summary>
    private static void LoadPanels<T>(ArrayView<T> shared, int offset, in TensorMap map, int panels, int rows, int row0, int head, int batch,
        ref ulong barrier) where T : unmanaged
    {
        for (int panel = 0; panel < panels; panel++)
            TensorCopy.Load(ref shared[(offset + panel * rows * RowBytes) / 2], in map, PanelHalves * panel, head, row0, batch, ref barrier);
    }

    /// <summary>Issues S = Q K_jᵀ (the warpgroup's 64 rows of Q at <paramref name="qRows"/>, K_j's tile at <paramref name="kTile"/>):
    /// per k step Q's and K's columns 16kk … of panel kk / 4; committed, not waited for.</summary>
    private static TScores Scores<T, TStorage, TScores>(uint qRows, uint kTile, int d, int blockRows, int blockCols)
        where T : unmanaged where TStorage : struct, IHalfStorage<T> where TScores : unmanaged, IWarpGroupAccumulators
    {
        var scores = default(TScores);
        for (int kk = 0; kk < d / 16; kk++)
        {
            uint column = (uint)(32 * (kk % 4));
            scores = TStorage.MultiplyAddWarpGroup(
                WarpGroupMma.Descriptor(qRows + (uint)(kk / 4 * blockRows * RowBytes) + column, SharedSwizzle.Bytes128, 16, AtomBytes),
                WarpGroupMma.Descriptor(kTile + (uint)(kk / 4 * blockCols * RowBytes) + column, SharedSwizzle.Bytes128, 16, AtomBytes),
                kk > 0, scores, false);
        }
        WarpGroupMma.Commit();
        return scores;
    }

    /// <summary>Issues O += P V (P's A fragments per 16 keys; keys 16kk … are V's rows 16kk …, its head dims the product's n,
    /// MN-major with panels 64 apart); committed, not waited for.</summary>
    private static TOutput AddProbabilitiesTimesValues<T, TStorage, TOutput>(ArrayView<int> pFragments, uint vTile, TOutput o, int blockCols)
        where T : unmanaged where TStorage : struct, IHalfStorage<T> where TOutput : unmanaged, IWarpGroupAccumulators
    {
        for (int kk = 0; kk < blockCols / 16; kk++)
            o = TStorage.MultiplyAddWarpGroup(new Int4(pFragments[4 * kk], pFragments[4 * kk + 1], pFragments[4 * kk + 2], pFragments[4 * kk + 3]),
                WarpGroupMma.Descriptor(vTile + (uint)(2 * kk * AtomBytes), SharedSwizzle.Bytes128, blockCols * RowBytes, AtomBytes), true, o, true);
        WarpGroupMma.Commit();
        return o;
    }
}
