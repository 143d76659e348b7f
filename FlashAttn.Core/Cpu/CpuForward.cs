using System.Diagnostics;
using FlashAttn.Compute.Runtime;
using System.Runtime.CompilerServices;
using FlashAttn.Cpu.Simd;
using FlashAttn.Kernels;

namespace FlashAttn.Cpu;

/// <summary>
/// FlashAttention-2's forward (Algorithm 1) on the CPU, parallel over (batch, query head, run of query blocks:
/// <see cref="ForwardPartition"/>). For one query
/// block Q_i (64 rows, pre-scaled by scale · log₂e) it walks the key blocks its rows' windows reach (causal, sliding): S = Q_i K_jᵀ, the online softmax
/// per row (<see cref="OnlineSoftmax"/>), O_i = diag(α) O_i + P V_j; then O_i /= l_i and L_i = (m_i + log₂ l_i) · ln 2.
/// Names as in the paper: m_i = rowMax, l_i = rowSum, O_i = acc. Score and mask modifiers rewrite S before the softmax,
/// dropout zeroes P after it (l_i counts the whole P) and 1/(1 − p) joins the final 1/l_i (<see cref="CpuModifiers{TScore, TMask}"/>).
/// A block mask (<see cref="CpuTiles"/>) skips the key blocks it empties and spares its full ones the mask modifier.
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
        using var packs = PackedKeysValues.Create(layout, accelerator, k, v, parallel, rowMajorKeys: false);
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
                QueryRun<T, TOps, TVector, TScore, TMask>(layout, modifiers, packs, scratch, q, output, lse, head / p.HeadsQ, head % p.HeadsQ,
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
        PackedKeysValues packs, ForwardScratch scratch, T* q, T* output, float* lse, int b, int h, int firstBlock, int count)
        where T : unmanaged where TOps : struct, ISimd<TVector> where TVector : struct
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        const int block = CpuAttentionLayout.Block;
        var p = layout.Problem;
        int dPad = layout.HeadDimPadded, blockSize = block * dPad, i0 = firstBlock * block;
        int rows = Math.Min(count * block, p.SeqLenQ - i0);
        int kvHead = b * p.HeadsKV + h / layout.Group;
        float* qs = scratch.Queries, s = scratch.Scores, acc = scratch.Output;
        float* rowMax = scratch.RowMax, rowSum = scratch.RowSum, alpha = scratch.Alpha, statistic = scratch.Statistic;
        int* first = stackalloc int[block], end = stackalloc int[block];
        int* firstKeyBlock = stackalloc int[ForwardPartition.MaxBlocksPerUnit], keyBlockEnd = stackalloc int[ForwardPartition.MaxBlocksPerUnit];
        // each row's visible keys [keyStart, keyLimit), once per run rather than per tile
        int* keyStart = stackalloc int[ForwardPartition.MaxBlocksPerUnit * block], keyLimit = stackalloc int[ForwardPartition.MaxBlocksPerUnit * block];
        for (int r = 0; r < rows; r++)
        {
            keyStart[r] = layout.KeyStart(i0 + r);
            keyLimit[r] = layout.KeyLimit(i0 + r);
        }

        // Q_i · scale · log₂e (zero rows past s_q), O_i = 0, m_i = −∞, l_i = 0 for every block of the run
        new Span<float>(qs, count * blockSize).Clear();
        for (int r = 0; r < rows; r++)
            StorageConvert.Widen(q + layout.Queries.RowStart(b, i0 + r, h), qs + r * dPad, layout.HeadDim,
                p.Scale * SoftmaxLog2.Log2E);
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

        float* values = packs.Values(kvHead);
        for (int keyBlock = runFirst; keyBlock < runEnd; keyBlock++)
        {
            int j0 = keyBlock * block;
            float* keysT = packs.KeysT(kvHead, keyBlock), valueBlock = values + (long)j0 * dPad;
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
                // a tile the causal diagonal (or a right window edge) cuts so that its top half rows see only its left half
                // keys: their products stop there (a quarter of the tile's work); the softmax masks the rest of their rows
                int topKeys = topEnd <= Half ? Half : block;
                float* qi = qs + g * blockSize, oi = acc + g * blockSize;
                // S = Q_i K_jᵀ
                long traced = CpuTrace.Enabled ? Stopwatch.GetTimestamp() : 0;
                MicroKernel.Multiply<TOps, TVector>(qi, dPad, keysT, block, s, block, Half, topKeys, layout.HeadDim, accumulate: false);
                MicroKernel.Multiply<TOps, TVector>(qi + Half * dPad, dPad, keysT, block, s + Half * block, block, Half, block,
                    layout.HeadDim, accumulate: false);
                if (CpuTrace.Enabled) traced = CpuTrace.Tile(CpuTrace.TileStep.Scores, traced);
                if (CpuModifiers<TScore, TMask>.ScoresModifiedOn(tile))
                    ModifyScores(layout, modifiers, s, first, end, b, h, blockStart, j0, blockRows, masked: tile != BlockMask.Full);
                OnlineSoftmax.Update<TOps, TVector>(s, first, end, blockMax, blockSum, alpha, statistic);
                if (modifiers.Dropped) DropProbabilities(modifiers, s, first, end, b, h, blockStart, j0, blockRows);
                if (CpuTrace.Enabled) traced = CpuTrace.Tile(CpuTrace.TileStep.Softmax, traced);
                // O_i = diag(α) O_i + P V_j, α applied as the micro-kernel loads O_i
                MicroKernel.Multiply<TOps, TVector>(s, block, valueBlock, dPad, oi, dPad, Half, dPad, topKeys, accumulate: true,
                    rowScale: alpha);
                MicroKernel.Multiply<TOps, TVector>(s + Half * block, block, valueBlock, dPad, oi + Half * dPad, dPad, Half, dPad, block,
                    accumulate: true, rowScale: alpha + Half);
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

    /// <summary>S through the score and mask modifiers (the mask only when <paramref name="masked"/>: not on a full tile), row r's
    /// visible keys [first[r], end[r]) only (the rest is masked anyway).</summary>
    private static void ModifyScores<TScore, TMask>(CpuAttentionLayout layout, in CpuModifiers<TScore, TMask> modifiers, float* s,
        int* first, int* end, int b, int h, int i0, int j0, int rows, bool masked)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        for (int r = 0; r < rows; r++)
            for (int c = first[r]; c < end[r]; c++)
                s[r * CpuAttentionLayout.Block + c] = modifiers.Log2Score(s[r * CpuAttentionLayout.Block + c], modifiers.At(layout, b, h, i0 + r, j0 + c), masked);
    }

    /// <summary>Dropout on P (after the row sums, which count the whole P): dropped entries become 0.</summary>
    private static void DropProbabilities<TScore, TMask>(in CpuModifiers<TScore, TMask> modifiers, float* p,
        int* first, int* end, int b, int h, int i0, int j0, int rows)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        const int block = CpuAttentionLayout.Block;
        byte* keeps = stackalloc byte[block * block];
        modifiers.DropoutKeeps(b, h, i0, j0, keeps);
        for (int r = 0; r < rows; r++)
            for (int c = first[r]; c < end[r]; c++)
                if (keeps[r * block + c] == 0) p[r * block + c] = 0f;
    }

    /// <summary>One worker's blocks for a run of query blocks: Q_i, O_i (64 × d_pad each), m_i, l_i
    /// (64 each) per query block; S/P (64 × 64), α and a row statistic shared. One workspace from the accelerator's cache, so
    /// a call neither maps nor faults in fresh pages (nor unmaps them: at 16 threads each unmap interrupts every core).</summary>
    private sealed class ForwardScratch : IDisposable
    {
        private readonly CpuWorkspace _memory;

        public ForwardScratch(CpuAttentionLayout layout, int blocks, Accelerator accelerator)
        {
            // every part a multiple of 16 floats, so each starts on a cache line as the workspace does
            const int block = CpuAttentionLayout.Block;
            long run = (long)blocks * block * layout.HeadDimPadded;
            _memory = CpuWorkspace.Rent(accelerator, 2 * run + block * block + 2 * blocks * block + 2 * block);
            Queries = _memory.Pointer;
            Output = Queries + run;
            Scores = Output + run;
            RowMax = Scores + block * block;
            RowSum = RowMax + blocks * block;
            Alpha = RowSum + blocks * block;
            Statistic = Alpha + block;
        }

        public float* Queries { get; }
        public float* Output { get; }
        public float* Scores { get; }
        public float* RowMax { get; }
        public float* RowSum { get; }
        public float* Alpha { get; }
        public float* Statistic { get; }

        public void Dispose() => _memory.Dispose();
    }
}
