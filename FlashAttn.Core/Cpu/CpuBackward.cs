using System.Diagnostics;
using FlashAttn.Compute.Runtime;
using System.Runtime.CompilerServices;
using FlashAttn.Cpu.Simd;
using FlashAttn.Kernels;

namespace FlashAttn.Cpu;

/// <summary>
/// FlashAttention-2's backward (Algorithm 2) on the CPU. Outer loop over key blocks K_j, V_j (one unit per
/// (batch, kv head, key block), split among workers by <see cref="BackwardPartition"/>); dK_j, dV_j stay in the
/// worker's blocks across the inner loop over the group's query heads and query blocks Q_i. Everything is computed
/// transposed (key rows × query columns) so every product is a row-major <see cref="MicroKernel"/> call:
/// <code>
/// Sᵀ = K_j Q_iᵀ            (log2 units: Q is pre-scaled by scale · log₂e)
/// Pᵀ = exp2(Sᵀ − L_i)      forward: P = exp(S − L)
/// dV_j += Pᵀ dO_i          forward: O = P V
/// dPᵀ = V_j dO_iᵀ          forward: O = P V
/// dSᵀ = Pᵀ ∘ (dPᵀ − D_i)   forward: P = softmax(S)
/// dK_j += dSᵀ Q_i · ln 2   forward: S = scale · Q Kᵀ
/// dQ_iᵀ += K_jᵀ dSᵀ        into the worker's own dQ partial (deterministic); partials summed in worker order, · scale
/// </code>
/// With modifiers (<see cref="CpuModifiers{TScore, TMask}"/>) Sᵀ goes through them before the exponential and dSᵀ is
/// multiplied by the score modifier's derivative; with dropout dV takes the kept P · 1/(1 − p) and dSᵀ = Pᵀ ∘ (kept dPᵀ / (1 − p) − D).
/// A block mask (<see cref="CpuTiles"/>) skips the (query block, key block) pairs it empties and spares its full ones the mask modifier.
/// </summary>
internal static unsafe class CpuBackward
{
    /// <summary>Shapes as the forward; dq like q, dk and dv like k.</summary>
    public static void Run<T, TOps, TVector, TScore, TMask>(CpuAttentionLayout layout, CpuModifiers<TScore, TMask> modifiers,
        Accelerator accelerator, T* q, T* k, T* v, T* output, T* dOutput, float* lse, T* dq, T* dk, T* dv, ParallelOptions parallel)
        where T : unmanaged where TOps : struct, ISimd<TVector> where TVector : struct
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        long mark = CpuTrace.Enabled ? Stopwatch.GetTimestamp() : 0;
        using var keys = PackedKeysValues.Create(layout, accelerator, k, v, parallel);
        using var queries = PackedQueries.Create(layout, accelerator, q, output, dOutput, lse, parallel);
        if (CpuTrace.Enabled) mark = CpuTrace.Mark(CpuTrace.Phase.BackwardPack, mark);
        var partition = new BackwardPartition(layout, modifiers.Tiles, parallel.MaxDegreeOfParallelism);
        var partials = new CpuWorkspace?[partition.Workers];
        try
        {
            // the dQ partials rented in worker order before the loop: rented by the workers, the cache would hand its buffers
            // out in the order they ask, and a call's memory (Device.PeakAllocatedBytes) would depend on the timing
            for (int worker = 0; worker < partition.Workers; worker++)
            {
                var (first, last) = partition.KvHeads(worker);
                if (last >= first) partials[worker] = CpuWorkspace.Rent(accelerator, (last - first + 1L) * layout.Group * DqPartialSize(layout));
            }
            CpuTeam.For(partition.Workers, parallel, worker =>
            {
                if (partials[worker] is not { } partial) return; // a worker without units
                int first = partition.KvHeads(worker).First;
                partial.Clear(0, partial.Length);
                using var scratch = new BackwardScratch(layout, modifiers.Acts);
                var (start, end) = partition.Units(worker);
                for (int unit = start; unit < end; unit++)
                {
                    var (kvHead, keyBlock) = partition.Split(unit);
                    float* dqHeads = partial.Pointer + (long)(kvHead - first) * layout.Group * DqPartialSize(layout);
                    KeyBlock<T, TOps, TVector, TScore, TMask>(layout, modifiers, keys, queries, scratch, dqHeads, dk, dv, kvHead, keyBlock);
                }
            });
            if (CpuTrace.Enabled) mark = CpuTrace.Mark(CpuTrace.Phase.BackwardBlocks, mark);
            DqReduction.Run(layout, partition, partials, dq, parallel);
            if (CpuTrace.Enabled) CpuTrace.Mark(CpuTrace.Phase.DqReduction, mark);
        }
        finally
        {
            foreach (var partial in partials) partial?.Dispose();
        }
    }

    /// <summary>
    /// Floats of one query head's dQᵀ partial: per query block a d_pad × 64 row-major matrix (rows 256 B apart, as
    /// the transposed packs are laid out, <see cref="Transpose"/>), s_q_pad × d_pad in all.
    /// </summary>
    public static long DqPartialSize(CpuAttentionLayout layout) => (long)layout.HeadDimPadded * layout.SeqLenQPadded;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: no tier-0 code in a timed run
    private static void KeyBlock<T, TOps, TVector, TScore, TMask>(CpuAttentionLayout layout, in CpuModifiers<TScore, TMask> modifiers,
        PackedKeysValues keys, PackedQueries queries, BackwardScratch scratch, float* dqHeads, T* dk, T* dv, int kvHead, int keyBlock)
        where T : unmanaged where TOps : struct, ISimd<TVector> where TVector : struct
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        const int block = CpuAttentionLayout.Block;
        var p = layout.Problem;
        int d = layout.HeadDim, dPad = layout.HeadDimPadded, j0 = keyBlock * block;
        float* kj = keys.Keys(kvHead) + (long)j0 * dPad, kjT = keys.KeysT(kvHead, keyBlock), vj = keys.Values(kvHead) + (long)j0 * dPad;
        float* pT = scratch.Probabilities.Pointer, dpT = scratch.ProbabilityGradients.Pointer;
        float* dKj = scratch.KeyGradients.Pointer, dVj = scratch.ValueGradients.Pointer;
        new Span<float>(dKj, block * dPad).Clear();
        new Span<float>(dVj, block * dPad).Clear();
        int b = kvHead / p.HeadsKV;

        for (int g = 0; g < layout.Group; g++)
        {
            int head = kvHead * layout.Group + g; // flat query head: (b · h_kv + h_kv) · group + g = b · h_q + h_q
            float* qs = queries.Queries(head), dO = queries.DOutput(head);
            float* l2 = queries.Lse(head), delta = queries.Delta(head), dqT = dqHeads + g * DqPartialSize(layout);
            // the query blocks whose rows' windows reach the key block
            for (int queryBlock = layout.FirstQueryBlockOf(keyBlock), end = layout.QueryBlockEndOf(keyBlock); queryBlock < end; queryBlock++)
            {
                // a tile the block mask empties has P = 0: no gradient, so no work
                byte tile = modifiers.Tiles.Of(b, head % p.HeadsQ, queryBlock, keyBlock);
                if (tile == BlockMask.Empty) continue;
                int i0 = queryBlock * block;
                // Sᵀ = K_j Q_iᵀ, then Pᵀ = exp2(Sᵀ − L_i) with the mask applied
                MicroKernel.Multiply<TOps, TVector>(kj, dPad, queries.QueriesT(head, queryBlock), block, pT, block, block, block, d, accumulate: false);
                if (modifiers.ActsOn(tile)) ModifiedElements(layout, modifiers, scratch, pT, head, j0, i0, masked: tile != BlockMask.Full);
                for (int r = 0; r < block; r++)
                    Probabilities<TOps, TVector>(pT + r * block, l2 + i0, VisibleColumns(layout, j0 + r, i0));
                // dV_j += Pᵀ dO_i (the kept Pᵀ / (1 − p) with dropout)
                float* pForValues = modifiers.Dropped ? Multiplied<TOps, TVector>(pT, scratch.KeepFactors!.Pointer, scratch.DroppedProbabilities!.Pointer) : pT;
                MicroKernel.Multiply<TOps, TVector>(pForValues, block, dO + (long)i0 * dPad, dPad, dVj, dPad, block, dPad, block, accumulate: true);
                // dPᵀ = V_j dO_iᵀ (kept / (1 − p) with dropout);  dSᵀ = Pᵀ ∘ (dPᵀ − D_i), in place of Pᵀ (· f′ with a score modifier)
                MicroKernel.Multiply<TOps, TVector>(vj, dPad, queries.DOutputT(head, queryBlock), block, dpT, block, block, block, d, accumulate: false);
                if (modifiers.Dropped) Multiplied<TOps, TVector>(dpT, scratch.KeepFactors!.Pointer, dpT);
                for (int r = 0; r < block; r++)
                    ScoreGradients<TOps, TVector>(pT + r * block, dpT + r * block, delta + i0);
                if (CpuModifiers<TScore, TMask>.ScoresDifferentiated) Multiplied<TOps, TVector>(pT, scratch.Derivatives!.Pointer, pT);
                // dK_j += dSᵀ Q_i;  dQ_iᵀ += K_jᵀ dSᵀ
                MicroKernel.Multiply<TOps, TVector>(pT, block, qs + (long)i0 * dPad, dPad, dKj, dPad, block, dPad, block, accumulate: true);
                MicroKernel.Multiply<TOps, TVector>(kjT, block, pT, block, dqT + (long)i0 * dPad, block, layout.HeadDimRows, block, block, accumulate: true);
            }
        }

        // dK = scale · Σ dS q = ln 2 · Σ dS (q · scale · log₂e);  dV as accumulated
        int h = kvHead % p.HeadsKV;
        for (int r = 0, rows = Math.Min(block, p.SeqLenK - j0); r < rows; r++)
        {
            long offset = layout.Keys.RowStart(b, j0 + r, h);
            StorageConvert.Narrow(dKj + r * dPad, dk + offset, d, SoftmaxLog2.Ln2);
            StorageConvert.Narrow(dVj + r * dPad, dv + offset, d, 1f);
        }
    }

    /// <summary>
    /// The columns (query rows i0 + c) of a query block that key <paramref name="key"/> is visible to, [First, End);
    /// empty for a padding key past s_k or a key outside every row's window.
    /// </summary>
    private static (int First, int End) VisibleColumns(CpuAttentionLayout layout, int key, int i0)
        => key >= layout.SeqLenK ? (0, 0)
            : (Math.Clamp(layout.FirstQueryOf(key) - i0, 0, CpuAttentionLayout.Block), Math.Clamp(layout.QueryLimit(key) - i0, 0, CpuAttentionLayout.Block));

    /// <summary>Pᵀ row (one key) = exp2(Sᵀ − L) over the block's query columns; columns outside <paramref name="visible"/> are masked (0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Probabilities<TOps, TVector>(float* row, float* l2, (int First, int End) visible) where TOps : struct, ISimd<TVector> where TVector : struct
    {
        for (int c = 0; c < CpuAttentionLayout.Block; c += TOps.Count)
            TOps.Store(row + c, VectorExp2.Exp2<TOps, TVector>(TOps.Subtract(TOps.Load(row + c), TOps.Load(l2 + c))));
        int end = Math.Max(visible.First, visible.End); // a key no row sees: First ≥ End, all masked
        new Span<float>(row, visible.First).Clear();
        new Span<float>(row + end, CpuAttentionLayout.Block - end).Clear();
    }

    /// <summary>dSᵀ row = Pᵀ ∘ (dPᵀ − D), written over Pᵀ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScoreGradients<TOps, TVector>(float* pRow, float* dpRow, float* delta) where TOps : struct, ISimd<TVector> where TVector : struct
    {
        for (int c = 0; c < CpuAttentionLayout.Block; c += TOps.Count)
            TOps.Store(pRow + c, TOps.Multiply(TOps.Load(pRow + c), TOps.Subtract(TOps.Load(dpRow + c), TOps.Load(delta + c))));
    }

    /// <summary>
    /// The element-wise part of the modifiers for one Sᵀ block (row r: key j0 + r; column c: query i0 + c), scalar, on the
    /// visible entries only (padding keys and rows would index the modifiers' data out of range): Sᵀ through the score and
    /// mask modifiers (the mask only when <paramref name="masked"/>: not on a full tile), the score modifier's derivative,
    /// dropout's factor (0 or 1/(1 − p)). Invisible entries get factors 0.
    /// </summary>
    private static void ModifiedElements<TScore, TMask>(CpuAttentionLayout layout, in CpuModifiers<TScore, TMask> modifiers,
        BackwardScratch scratch, float* sT, int head, int j0, int i0, bool masked)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        const int block = CpuAttentionLayout.Block;
        int b = head / layout.Problem.HeadsQ, h = head % layout.Problem.HeadsQ;
        float keptScale = modifiers.KeptScale;
        byte* keeps = stackalloc byte[block * block]; // queries × keys: read transposed below
        if (modifiers.Dropped) modifiers.DropoutKeeps(b, h, i0, j0, keeps);
        for (int r = 0; r < block; r++)
        {
            var (first, end) = VisibleColumns(layout, j0 + r, i0);
            float* derivatives = scratch.Derivatives is { } d ? d.Pointer + r * block : null;
            float* keep = scratch.KeepFactors is { } f ? f.Pointer + r * block : null;
            if (CpuModifiers<TScore, TMask>.ScoresDifferentiated) new Span<float>(derivatives, block).Clear();
            if (modifiers.Dropped) new Span<float>(keep, block).Clear();
            for (int c = first; c < end; c++)
            {
                var at = modifiers.At(layout, b, h, i0 + c, j0 + r);
                float s = sT[r * block + c];
                if (CpuModifiers<TScore, TMask>.ScoresDifferentiated) derivatives[c] = modifiers.Derivative(s, at);
                if (CpuModifiers<TScore, TMask>.ScoresModified) sT[r * block + c] = modifiers.Log2Score(s, at, masked);
                if (modifiers.Dropped) keep[c] = keeps[c * block + r] != 0 ? keptScale : 0f;
            }
        }
    }

    /// <summary><paramref name="target"/> = <paramref name="a"/> ∘ <paramref name="factors"/> over a 64 × 64 block (target may be a); returns target.</summary>
    private static float* Multiplied<TOps, TVector>(float* a, float* factors, float* target) where TOps : struct, ISimd<TVector> where TVector : struct
    {
        for (int x = 0; x < CpuAttentionLayout.Block * CpuAttentionLayout.Block; x += TOps.Count)
            TOps.Store(target + x, TOps.Multiply(TOps.Load(a + x), TOps.Load(factors + x)));
        return target;
    }

    /// <summary>
    /// One worker's blocks: Pᵀ/dSᵀ and dPᵀ (64 × 64), dK_j and dV_j (64 × d_pad); with <paramref name="modified"/> also
    /// the score derivatives, dropout's factors and the dropped Pᵀ (64 × 64 each).
    /// </summary>
    private sealed class BackwardScratch(CpuAttentionLayout layout, bool modified) : IDisposable
    {
        public readonly AlignedBuffer? Derivatives = modified ? AlignedBuffer.Uninitialized((long)CpuAttentionLayout.Block * CpuAttentionLayout.Block) : null;
        public readonly AlignedBuffer? KeepFactors = modified ? AlignedBuffer.Uninitialized((long)CpuAttentionLayout.Block * CpuAttentionLayout.Block) : null;
        public readonly AlignedBuffer? DroppedProbabilities = modified ? AlignedBuffer.Uninitialized((long)CpuAttentionLayout.Block * CpuAttentionLayout.Block) : null;
        public readonly AlignedBuffer Probabilities = AlignedBuffer.Uninitialized((long)CpuAttentionLayout.Block * CpuAttentionLayout.Block);
        public readonly AlignedBuffer ProbabilityGradients = AlignedBuffer.Uninitialized((long)CpuAttentionLayout.Block * CpuAttentionLayout.Block);
        public readonly AlignedBuffer KeyGradients = AlignedBuffer.Uninitialized((long)CpuAttentionLayout.Block * layout.HeadDimPadded);
        public readonly AlignedBuffer ValueGradients = AlignedBuffer.Uninitialized((long)CpuAttentionLayout.Block * layout.HeadDimPadded);

        public void Dispose()
        {
            Probabilities.Dispose();
            ProbabilityGradients.Dispose();
            KeyGradients.Dispose();
            ValueGradients.Dispose();
            Derivatives?.Dispose();
            KeepFactors?.Dispose();
            DroppedProbabilities?.Dispose();
        }
    }
}
