using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Kernels;

namespace FlashAttn.Dispatch;

/// <summary>The production kernels: FlashAttn.Kernels' <see cref="AttentionLauncher"/>.</summary>
internal sealed class LauncherAttentionKernels : IAttentionKernels
{
    public static LauncherAttentionKernels Instance { get; } = new();

    public static AttentionShape ShapeOf(AttentionProblem p) =>
        new(p.Batch, p.SeqLenQ, p.SeqLenK, p.HeadsQ, p.HeadsKV, p.HeadDim);

    public static AttentionSettings SettingsOf(AttentionProblem p) =>
        new(p.Scale, p.Causal, p.CausalBottomRight, p.Deterministic, p.WindowLeft, p.WindowRight);

    public void Forward<T>(Accelerator accelerator, AttentionProblem problem,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse) where T : unmanaged
        => AttentionLauncher.Forward(accelerator, ShapeOf(problem), SettingsOf(problem), q, k, v, output, lse);

    public void Backward<T>(Accelerator accelerator, AttentionProblem problem,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv) where T : unmanaged
        => AttentionLauncher.Backward(accelerator, ShapeOf(problem), SettingsOf(problem), q, k, v, output, dOutput, lse, dq, dk, dv);

    public void ForwardVarlen<T>(Accelerator accelerator, VarlenProblem problem, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v,
        ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK, ArrayView<T> output, ArrayView<float> lse) where T : unmanaged
        => AttentionLauncher.ForwardVarlen(accelerator, problem.Shape, problem.Settings, q, k, v, cuSeqlensQ, cuSeqlensK, output, lse);

    public void BackwardVarlen<T>(Accelerator accelerator, VarlenProblem problem, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v,
        ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse, ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv) where T : unmanaged
        => AttentionLauncher.BackwardVarlen(accelerator, problem.Shape, problem.Settings, q, k, v, output, dOutput, lse,
            cuSeqlensQ, cuSeqlensK, dq, dk, dv);

    public void ForwardKvCache<T>(Accelerator accelerator, KvCacheProblem problem, ArrayView<T> q, ArrayView<T> kCache, ArrayView<T> vCache,
        ArrayView<T> kNew, ArrayView<T> vNew, KvCacheIndex index, ArrayView<T> output, ArrayView<float> lse) where T : unmanaged
        => AttentionLauncher.ForwardKvCache(accelerator, problem.Shape, problem.Settings, problem.Splits, q, kCache, vCache, kNew, vNew,
            index, output, lse);
}
