using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Dispatch;
using FlashAttn.Kernels;

namespace FlashAttn.Cpu;

/// <summary>
/// Varlen calls on the CPU path: each packed sequence is a dense batch of one — its q, k, v, output and gradient rows are
/// contiguous in the packed tensors, so the dense passes get pointers to its first token; only the log-sum-exp, (h_q,
/// total_q) here against (h_q, s_q) per sequence, goes through a temporary.
/// </summary>
internal sealed unsafe partial class CpuAttentionKernels
{
    public void ForwardVarlen<T, TScore, TMask>(Accelerator accelerator, VarlenProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK, ArrayView<T> output,
        ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var shape = problem.Shape;
        if (shape.Sequences <= 0 || shape.TotalQ == 0) return;
        var sequences = PackedSequences(shape, cuSeqlensQ, cuSeqlensK);
        int hq = shape.HeadsQ, d = shape.HeadDim;
        T* qs = q.Pointer, ks = k.Pointer, vs = v.Pointer, os = output.Pointer;
        float* ls = lse.Pointer;
        ForEachSequence(sequences.Length, i => (long)sequences[i].Queries * Math.Max(1, sequences[i].Keys), (i, parallel) =>
        {
            var (qStart, queries, kStart, keys) = sequences[i];
            if (queries == 0) return;
            long qOffset = (long)qStart * hq * d, kOffset = (long)kStart * shape.HeadsKV * d;
            if (keys == 0)
            {
                // no key to attend to: O = 0, L = +∞ (as the kernels)
                new Span<T>(os + qOffset, queries * hq * d).Clear();
                for (int h = 0; h < hq; h++) new Span<float>(ls + (long)h * shape.TotalQ + qStart, queries).Fill(float.PositiveInfinity);
                return;
            }
            using var sequenceLse = CpuWorkspace.Rent(accelerator, (long)hq * queries);
            var dense = SequenceProblem(problem.Settings, queries, keys, hq, shape.HeadsKV, d);
            DenseForward(dense, Modifiers(dense, modifiers, sequence: i), accelerator,
                qs + qOffset, ks + kOffset, vs + kOffset, os + qOffset, sequenceLse.Pointer, parallel);
            for (int h = 0; h < hq; h++)
                new ReadOnlySpan<float>(sequenceLse.Pointer + (long)h * queries, queries).CopyTo(new Span<float>(ls + (long)h * shape.TotalQ + qStart, queries));
        });
    }

    public void BackwardVarlen<T, TScore, TMask>(Accelerator accelerator, VarlenProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK, ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var shape = problem.Shape;
        if (shape.Sequences <= 0) return;
        var sequences = PackedSequences(shape, cuSeqlensQ, cuSeqlensK);
        int hq = shape.HeadsQ, hkv = shape.HeadsKV, d = shape.HeadDim;
        T* qs = q.Pointer, ks = k.Pointer, vs = v.Pointer, os = output.Pointer, dos = dOutput.Pointer;
        T* dqs = dq.Pointer, dks = dk.Pointer, dvs = dv.Pointer;
        float* ls = lse.Pointer;
        ForEachSequence(sequences.Length, i => (long)Math.Max(1, sequences[i].Queries) * Math.Max(1, sequences[i].Keys), (i, parallel) =>
        {
            var (qStart, queries, kStart, keys) = sequences[i];
            long qOffset = (long)qStart * hq * d, kOffset = (long)kStart * hkv * d;
            if (queries == 0 || keys == 0)
            {
                // nothing attends: the gradients of the sequence's rows are 0
                new Span<T>(dqs + qOffset, queries * hq * d).Clear();
                new Span<T>(dks + kOffset, keys * hkv * d).Clear();
                new Span<T>(dvs + kOffset, keys * hkv * d).Clear();
                return;
            }
            using var sequenceLse = CpuWorkspace.Rent(accelerator, (long)hq * queries);
            for (int h = 0; h < hq; h++)
                new ReadOnlySpan<float>(ls + (long)h * shape.TotalQ + qStart, queries).CopyTo(new Span<float>(sequenceLse.Pointer + (long)h * queries, queries));
            var dense = SequenceProblem(problem.Settings, queries, keys, hq, hkv, d);
            DenseBackward(dense, Modifiers(dense, modifiers, sequence: i), accelerator,
                qs + qOffset, ks + kOffset, vs + kOffset, os + qOffset, dos + qOffset, sequenceLse.Pointer,
                dqs + qOffset, dks + kOffset, dvs + kOffset, parallel);
        });
    }

    /// <summary>(first query, queries, first key, keys) of each packed sequence, read from host memory and clamped to the totals.</summary>
    private static (int QueryStart, int Queries, int KeyStart, int Keys)[] PackedSequences(Kernels.VarlenShape shape,
        ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK)
    {
        var sequences = new (int, int, int, int)[shape.Sequences];
        for (int i = 0; i < sequences.Length; i++)
        {
            int qStart = Clamp(cuSeqlensQ[i], 0, shape.TotalQ), qEnd = Clamp(cuSeqlensQ[i + 1], qStart, shape.TotalQ);
            int kStart = Clamp(cuSeqlensK[i], 0, shape.TotalK), kEnd = Clamp(cuSeqlensK[i + 1], kStart, shape.TotalK);
            sequences[i] = (qStart, qEnd - qStart, kStart, kEnd - kStart);
        }
        return sequences;
    }
}
