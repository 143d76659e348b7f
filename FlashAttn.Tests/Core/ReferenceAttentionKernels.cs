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

    public void Forward<T>(Accelerator accelerator, AttentionProblem problem,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse) where T : unmanaged
    {
        ForwardCalls++;
        LastProblem = problem;
        var (o, l) = ReferenceAttention.Forward(SizesOf(problem), Read(q), Read(k), Read(v),
            problem.Scale, problem.Causal, problem.CausalBottomRight);
        Write(output, o);
        for (int i = 0; i < l.Length; i++) lse[i] = (float)l[i];
    }

    public void Backward<T>(Accelerator accelerator, AttentionProblem problem,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv) where T : unmanaged
    {
        BackwardCalls++;
        LastProblem = problem;
        var (gq, gk, gv) = ReferenceAttention.Backward(SizesOf(problem), Read(q), Read(k), Read(v), Read(dOutput),
            problem.Scale, problem.Causal, problem.CausalBottomRight);
        Write(dq, gq);
        Write(dk, gk);
        Write(dv, gv);
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

    public void ForwardVarlen<T>(Accelerator accelerator, VarlenProblem problem, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v,
        ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK, ArrayView<T> output, ArrayView<float> lse) where T : unmanaged
        => throw new NotSupportedException("the reference stand-in covers dense calls only");

    public void BackwardVarlen<T>(Accelerator accelerator, VarlenProblem problem, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v,
        ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse, ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv) where T : unmanaged
        => throw new NotSupportedException("the reference stand-in covers dense calls only");

    public void ForwardKvCache<T>(Accelerator accelerator, KvCacheProblem problem, ArrayView<T> q, ArrayView<T> kCache, ArrayView<T> vCache,
        ArrayView<T> kNew, ArrayView<T> vNew, KvCacheIndex index, ArrayView<T> output, ArrayView<float> lse) where T : unmanaged
        => throw new NotSupportedException("the reference stand-in covers dense calls only");
}
