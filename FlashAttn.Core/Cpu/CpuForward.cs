using System.Diagnostics;
using FlashAttn.Compute.Runtime;
using System.Runtime.CompilerServices;
using FlashAttn.Cpu.Simd;
using FlashAttn.Kernels;

namespace FlashAttn.Cpu;

/// <summary>
/// FlashAttention-2's forward (Algorithm 1) on the CPU, parallel over (batch, query head, run of query blocks:
/// <see cref="ForwardPartition"/>). For one query block Q_i (64 rows, pre-scaled by scale · log₂e, held transposed) it
/// walks the key blocks its rows' windows reach (causal, sliding): Sᵀ = K_j Q_iᵀ (keys × queries, as the backward computes
/// it: K_j's rows are read as they are, <see cref="ForwardKeysValues"/>), the online softmax per query on Sᵀ's columns
/// (<see cref="OnlineSoftmax"/>), O_i = diag(α) O_i + P V_j with P read from Pᵀ; then O_i /= l_i and
/// L_i = (m_i + log₂ l_i) · ln 2. Names as in the paper: m_i = rowMax, l_i = rowSum, O_i = acc. Score and mask modifiers
/// rewrite S before the softmax, dropout zeroes P after it (l_i counts the whole P) and 1/(1 − p) joins the final 1/l_i
/// (<see cref="CpuModifiers{TScore, TMask}"/>). A block mask (<see cref="CpuTiles"/>) skips the key blocks it empties and
/// spares its full ones the mask modifier.
/// </summary>
internal static unsafe class CpuForward
{
    /// <summary>Half a block's rows (and keys): the micro-kernel's products run per half block, so a diagonal tile's top half can stop at its left half.</summary>
    private const int Half = CpuAttentionLayout.Block / 2;

    /// <summary>q: (b, s_q, h_q, d); k, v: (b, s_k, h_kv, d); output like q; lse: (b, h_q, s_q) natural log.</summary>
    public static void Run<T, TOps, TVector, TScore, TMask>(CpuAttentionLayout layout, CpuModifiers<TScore, TMask> modifiers,
        Accelerator accelerator, T* q, T* k, T* v, T* output, float* lse, ParallelOptions parallel)
        where T : unmanaged where TOps : struct, ISimd<TVector> where TVector : struct
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var p = layout.Problem;
        long mark = CpuTrace.Enabled ? Stopwatch.GetTimestamp() : 0;
        using var keysValues = ForwardKeysValues.Create(layout, accelerator, k, v, parallel);
        if (CpuTrace.Enabled) mark = CpuTrace.Mark(CpuTrace.Phase.Pack, mark);
        var partition = new ForwardPartition(layout, CpuTeam.Workers(int.MaxValue, parallel));
        // every worker's scratch rented before the loop, not by the worker as it starts: which workers take part in a loop
        // depends on timing, and a call's memory (Device.PeakAllocatedBytes) must not
        var scratches = new ForwardScratch?[CpuTeam.Workers(partition.Units, parallel)];
        try
        {
            for (int worker = 0; worker < scratches.Length; worker++)
                scratches[worker] = new ForwardScratch(layout, partition.BlocksPerUnit, accelerator);
            if (CpuTrace.Enabled) mark = CpuTrace.Mark(CpuTrace.Phase.Scratch, mark);
            CpuTeam.For(partition.Units, parallel, (unit, worker) =>
            {
                var scratch = scratches[worker]!;
                var (head, firstBlock, count) = partition.Of(unit);
                QueryRun<T, TOps, TVector, TScore, TMask>(layout, modifiers, keysValues, scratch, q, output, lse, head / p.HeadsQ, head % p.HeadsQ,
                    firstBlock, count);
            });
            if (CpuTrace.Enabled) mark = CpuTrace.Mark(CpuTrace.Phase.Blocks, mark);
        }
        finally
        {
            foreach (var scratch in scratches) scratch?.Dispose();
        }
        if (CpuTrace.Enabled) CpuTrace.Mark(CpuTrace.Phase.Release, mark); // the scratch here, the packs as the method returns
    }

    /// <summary>
    /// Query blocks [<paramref name="firstBlock"/>, + <paramref name="count"/>) of one head: the key blocks outside, the
    /// run's query blocks inside, so K_j and V_j are loaded once for the run. Each query block still sees its key blocks
    /// in order with the same arithmetic as alone: results do not depend on the run length.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: no tier-0 code in a timed run
    private static void QueryRun<T, TOps, TVector, TScore, TMask>(CpuAttentionLayout layout, in CpuModifiers<TScore, TMask> modifiers,
        ForwardKeysValues keysValues, ForwardScratch scratch, T* q, T* output, float* lse, int b, int h, int firstBlock, int count)
        where T : unmanaged where TOps : struct, ISimd<TVector> where TVector : struct
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        const int block = CpuAttentionLayout.Block;
        var p = layout.Problem;
        int dPad = layout.HeadDimPadded, blockSize = block * dPad, i0 = firstBlock * block;
        int rows = Math.Min(count * block, p.SeqLenQ - i0);
        int kvHead = h / layout.Group;
        float* queriesT = scratch.QueriesT, queryRows = scratch.QueryRows, sT = scratch.Scores, acc = scratch.Output;
        float* rowMax = scratch.RowMax, rowSum = scratch.RowSum, alpha = scratch.Alpha;
        int* first = stackalloc int[block], end = stackalloc int[block];
        int* firstKeyBlock = stackalloc int[ForwardPartition.MaxBlocksPerUnit], keyBlockEnd = stackalloc int[ForwardPartition.MaxBlocksPerUnit];
        // each row's visible keys [keyStart, keyLimit), once per run rather than per tile
        int* keyStart = stackalloc int[ForwardPartition.MaxBlocksPerUnit * block], keyLimit = stackalloc int[ForwardPartition.MaxBlocksPerUnit * block];
        for (int r = 0; r < rows; r++)
        {
            keyStart[r] = layout.KeyStart(i0 + r);
            keyLimit[r] = layout.KeyLimit(i0 + r);
        }

        // Q_iᵀ · scale · log₂e (d_pad × 64, zero columns past s_q), O_i = 0, m_i = −∞, l_i = 0 for every block of the run
        for (int g = 0; g < count; g++)
        {
            int blockStart = i0 + g * block, blockRows = Math.Min(block, p.SeqLenQ - blockStart);
            if (blockRows < block || layout.HeadDim < dPad) new Span<float>(queryRows, blockSize).Clear(); // padding reads as 0
            for (int r = 0; r < blockRows; r++)
                StorageConvert.Widen(q + layout.Queries.RowStart(b, blockStart + r, h), queryRows + r * dPad, layout.HeadDim,
                    p.Scale * SoftmaxLog2.Log2E);
            Transpose.Copy(queryRows, dPad, block, dPad, queriesT + g * blockSize, block);
        }
        new Span<float>(acc, count * blockSize).Clear();
        new Span<float>(rowMax, count * block).Fill(float.NegativeInfinity);
        new Span<float>(rowSum, count * block).Clear();

        // the key blocks each query block's rows' windows reach: from its first row's left edge to its last row's right edge
        int runFirst = int.MaxValue, runEnd = 0;
        for (int g = 0; g < count; g++)
        {
            int blockStart = i0 + g * block, blockRows = Math.Min(block, p.SeqLenQ - blockStart);
            firstKeyBlock[g] = layout.FirstKeyBlockOf(blockStart);
            keyBlockEnd[g] = layout.KeyBlockEndOf(blockStart, blockRows);
            if (keyBlockEnd[g] <= firstKeyBlock[g]) continue;
            runFirst = Math.Min(runFirst, firstKeyBlock[g]);
            runEnd = Math.Max(runEnd, keyBlockEnd[g]);
        }

        for (int keyBlock = runFirst; keyBlock < runEnd; keyBlock++)
        {
            int j0 = keyBlock * block, blockKeys = Math.Min(block, p.SeqLenK - j0);
            float* kj = keysValues.Keys(b, kvHead, keyBlock, scratch.EdgeKeys, out int keyStride), vj = keysValues.Values(b, kvHead, keyBlock);
            for (int g = 0; g < count; g++)
            {
                if (keyBlock < firstKeyBlock[g] || keyBlock >= keyBlockEnd[g]) continue;
                int queryBlock = firstBlock + g, blockStart = i0 + g * block, blockRows = Math.Min(block, p.SeqLenQ - blockStart);
                // a tile the block mask empties changes nothing (all −∞: α = 1, P = 0), so it is not even read
                byte tile = modifiers.Tiles.Of(b, h, queryBlock, keyBlock);
                if (tile == BlockMask.Empty) continue;
                float* blockMax = rowMax + g * block, blockSum = rowSum + g * block;
                // each row's visible keys of the block
                int topEnd = 0;
                for (int r = 0; r < block; r++)
                {
                    first[r] = r < blockRows ? Math.Clamp(keyStart[g * block + r] - j0, 0, block) : 0;
                    end[r] = r < blockRows ? Math.Min(block, keyLimit[g * block + r] - j0) : 0;
                    if (r < Half) topEnd = Math.Max(topEnd, end[r]);
                }
                // a tile the causal diagonal (or a right window edge) cuts so that its first half of queries sees only its
                // first half of keys: the second half of keys meets only the second half of queries (a quarter of the tile's
                // work saved); the softmax masks what is left out
                int topKeys = topEnd <= Half ? Half : block;
                float* qiT = queriesT + g * blockSize, oi = acc + g * blockSize;
                // Sᵀ = K_j Q_iᵀ
                long traced = CpuTrace.Enabled ? Stopwatch.GetTimestamp() : 0;
                MicroKernel.Multiply<TOps, TVector>(kj, keyStride, qiT, block, sT, block, Half, block, layout.HeadDim, accumulate: false);
                int lateQueries = topKeys; // the queries the second half of keys meets: the last half on a cut tile, else all
                MicroKernel.Multiply<TOps, TVector>(kj + Half * keyStride, keyStride, qiT + block - lateQueries, block,
                    sT + Half * block + block - lateQueries, block, Half, lateQueries, layout.HeadDim, accumulate: false);
                if (CpuTrace.Enabled) traced = CpuTrace.Tile(CpuTrace.TileStep.Scores, traced);
                if (CpuModifiers<TScore, TMask>.ScoresModifiedOn(tile))
                    ModifyScores(layout, modifiers, sT, first, end, b, h, blockStart, j0, blockRows, masked: tile != BlockMask.Full);
                OnlineSoftmax.Update<TOps, TVector>(sT, first, end, blockMax, blockSum, alpha);
                if (modifiers.Dropped) DropProbabilities(modifiers, sT, first, end, b, h, blockStart, j0, blockRows);
                if (CpuTrace.Enabled) traced = CpuTrace.Tile(CpuTrace.TileStep.Softmax, traced);
                // O_i = diag(α) O_i + P V_j, α applied as the micro-kernel loads O_i; P read from Pᵀ, keys up to the block's last
                MicroKernel.Multiply<TOps, TVector>(sT, block, vj, keysValues.Stride, oi, dPad, Half, dPad, Math.Min(topKeys, blockKeys),
                    accumulate: true, rowScale: alpha, transposedA: true);
                MicroKernel.Multiply<TOps, TVector>(sT + Half, block, vj, keysValues.Stride, oi + Half * dPad, dPad, Half, dPad, blockKeys,
                    accumulate: true, rowScale: alpha + Half, transposedA: true);
                if (CpuTrace.Enabled) CpuTrace.Tile(CpuTrace.TileStep.Values, traced);
            }
        }

        // O_i /= l_i (· 1/(1 − p) with dropout);  L_i = m_i + log l_i (natural log); a row that saw no key: O = 0, L = +∞
        float keptScale = modifiers.KeptScale;
        for (int r = 0; r < rows; r++)
        {
            int i = i0 + r;
            bool empty = rowSum[r] == 0f;
            lse[((long)b * p.HeadsQ + h) * p.SeqLenQ + i] = empty ? float.PositiveInfinity
                : (rowMax[r] + MathF.Log2(rowSum[r])) * SoftmaxLog2.Ln2;
            StorageConvert.Narrow(acc + r * dPad, output + layout.Queries.RowStart(b, i, h), layout.HeadDim,
                empty ? 0f : keptScale / rowSum[r]);
        }
    }

    /// <summary>Sᵀ through the score and mask modifiers (the mask only when <paramref name="masked"/>: not on a full tile),
    /// query r's visible keys [first[r], end[r]) only (the rest is masked anyway).</summary>
    private static void ModifyScores<TScore, TMask>(CpuAttentionLayout layout, in CpuModifiers<TScore, TMask> modifiers, float* sT,
        int* first, int* end, int b, int h, int i0, int j0, int rows, bool masked)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        const int block = CpuAttentionLayout.Block;
        for (int r = 0; r < rows; r++)
            for (int c = first[r]; c < end[r]; c++)
                sT[c * block + r] = modifiers.Log2Score(sT[c * block + r], modifiers.At(layout, b, h, i0 + r, j0 + c), masked);
    }

    /// <summary>Dropout on Pᵀ (after the row sums, which count the whole P): dropped entries become 0.</summary>
    private static void DropProbabilities<TScore, TMask>(in CpuModifiers<TScore, TMask> modifiers, float* pT,
        int* first, int* end, int b, int h, int i0, int j0, int rows)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        const int block = CpuAttentionLayout.Block;
        byte* keeps = stackalloc byte[block * block];
        modifiers.DropoutKeeps(b, h, i0, j0, keeps);
        for (int r = 0; r < rows; r++)
            for (int c = first[r]; c < end[r]; c++)
                if (keeps[r * block + c] == 0) pT[c * block + r] = 0f;
    }

    /// <summary>One worker's blocks for a run of query blocks: Q_iᵀ and O_i (d_pad × 64 and 64 × d_pad), m_i, l_i (64 each)
    /// per query block; Sᵀ/Pᵀ (64 × 64), α, a block of query rows on their way to Q_iᵀ and one for a short last K_j shared.
    /// One workspace from the accelerator's cache, so a call neither maps nor faults in fresh pages (nor unmaps them: at 16
    /// threads each unmap interrupts every core).</summary>
    private sealed class ForwardScratch : IDisposable
    {
        private readonly CpuWorkspace _memory;

        public ForwardScratch(CpuAttentionLayout layout, int blocks, Accelerator accelerator)
        {
            // every part a multiple of 16 floats, so each starts on a cache line as the workspace does
            const int block = CpuAttentionLayout.Block;
            int blockSize = block * layout.HeadDimPadded;
            long run = (long)blocks * blockSize;
            _memory = CpuWorkspace.Rent(accelerator, 2 * run + 2 * blockSize + block * block + 2 * blocks * block + block);
            QueriesT = _memory.Pointer;
            Output = QueriesT + run;
            QueryRows = Output + run;
            EdgeKeys = QueryRows + blockSize;
            Scores = EdgeKeys + blockSize;
            RowMax = Scores + block * block;
            RowSum = RowMax + blocks * block;
            Alpha = RowSum + blocks * block;
        }

        public float* QueriesT { get; }
        public float* Output { get; }
        public float* QueryRows { get; }
        public float* EdgeKeys { get; }
        public float* Scores { get; }
        public float* RowMax { get; }
        public float* RowSum { get; }
        public float* Alpha { get; }

        public void Dispose() => _memory.Dispose();
    }
}
