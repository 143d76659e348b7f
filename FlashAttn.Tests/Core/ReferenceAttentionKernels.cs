using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Dispatch;
using FlashAttn.Kernels;

namespace FlashAttn.Tests.Core;

/// <summary>
/// Stand-in kernels for <see cref="HostAccelerator"/>: read the (host) views, run <see cref="ReferenceAttention"/>,
/// write the results back. They test the API's plumbing, not the real kernels.
/// </summary>
internal sealed class ReferenceAttentionKernels : IAttentionKernels
{
    public int ForwardCalls { get; private set; }
    public int BackwardCalls { get; private set; }
    public AttentionProblem? LastProblem { get; private set; }

    private static ReferenceAttention.Sizes SizesOf(AttentionProblem p) =>
        new(p.Batch, p.SeqLenQ, p.SeqLenK, p.HeadsQ, p.HeadsKV, p.HeadDim);

    public void Forward<T, TScore, TMask>(Accelerator accelerator, AttentionProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        PlainOnly(problem, modifiers);
        ForwardCalls++;
        LastProblem = problem;
        var (o, l) = ReferenceAttention.Forward(SizesOf(problem), Read(q), Read(k), Read(v),
            problem.Scale, problem.Causal, problem.CausalBottomRight);
        Write(output, o);
        for (int i = 0; i < l.Length; i++) lse[i] = (float)l[i];
    }

    public void Backward<T, TScore, TMask>(Accelerator accelerator, AttentionProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        PlainOnly(problem, modifiers);
        BackwardCalls++;
        LastProblem = problem;
        var (gq, gk, gv) = ReferenceAttention.Backward(SizesOf(problem), Read(q), Read(k), Read(v), Read(dOutput),
            problem.Scale, problem.Causal, problem.CausalBottomRight);
        Write(dq, gq);
        Write(dk, gk);
        Write(dv, gv);
    }

    /// <summary>The stand-in computes plain attention on (b, s, h, d) tensors: refuse modifiers, dropout and other layouts
    /// rather than ignore them.</summary>
    private static void PlainOnly<TScore, TMask>(AttentionProblem problem, AttentionModifiers<TScore, TMask> modifiers)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        if (AttentionModifiers<TScore, TMask>.Flags != 0 || problem.Dropout.Enabled || problem.Layout != AttentionLayout.BatchSeqHeadDim)
            throw new NotSupportedException("the reference stand-in covers plain attention only (no modifiers, no dropout, default layout)");
    }

    private static double[] Read<T>(ArrayView<T> view) where T : unmanaged
    {
        var values = new double[view.Length];
        for (int i = 0; i < values.Length; i++) values[i] = DTypes.ToDouble(view[i]);
        return values;
    }

    private static void Write<T>(ArrayView<T> view, double[] values) where T : unmanaged
    {
        for (int i = 0; i < values.Length; i++) view[i] = DTypes.FromDouble<T>(values[i]);
    }

    public void ForwardVarlen<T, TScore, TMask>(Accelerator accelerator, VarlenProblem problem, AttentionModifiers<TScore, TMask> modifiers, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v,
        ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK, ArrayView<T> output, ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => throw new NotSupportedException("the reference stand-in covers dense calls only");

    public void BackwardVarlen<T, TScore, TMask>(Accelerator accelerator, VarlenProblem problem, AttentionModifiers<TScore, TMask> modifiers, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v,
        ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse, ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => throw new NotSupportedException("the reference stand-in covers dense calls only");

    public void ForwardKvCache<T, TScore, TMask>(Accelerator accelerator, KvCacheProblem problem, AttentionModifiers<TScore, TMask> modifiers, ArrayView<T> q, ArrayView<T> kCache, ArrayView<T> vCache,
        ArrayView<T> kNew, ArrayView<T> vNew, KvCacheIndex index, ArrayView<T> output, ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => throw new NotSupportedException("the reference stand-in covers dense calls only");
}
