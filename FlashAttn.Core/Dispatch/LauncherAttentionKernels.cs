using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Kernels;

namespace FlashAttn.Dispatch;

/// <summary>The production kernels: FlashAttn.Kernels' <see cref="AttentionLauncher"/>.</summary>
internal sealed class LauncherAttentionKernels : IAttentionKernels
{
    public static LauncherAttentionKernels Instance { get; } = new();

    public static AttentionShape ShapeOf(AttentionProblem p) =>
        new(p.Batch, p.SeqLenQ, p.SeqLenK, p.HeadsQ, p.HeadsKV, p.HeadDim, p.Layout);

    public static AttentionSettings SettingsOf(AttentionProblem p) =>
        new(p.Scale, p.Causal, p.CausalBottomRight, p.Deterministic, p.WindowLeft, p.WindowRight, p.Dropout, p.Fp32Math);

    public void Forward<T, TScore, TMask>(Accelerator accelerator, AttentionProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => AttentionLauncher.Forward(accelerator, ShapeOf(problem), SettingsOf(problem), modifiers, q, k, v, output, lse);

    public void Backward<T, TScore, TMask>(Accelerator accelerator, AttentionProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => AttentionLauncher.Backward(accelerator, ShapeOf(problem), SettingsOf(problem), modifiers, q, k, v, output, dOutput, lse, dq, dk, dv);

    public void ForwardVarlen<T, TScore, TMask>(Accelerator accelerator, VarlenProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK, ArrayView<T> output,
        ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => AttentionLauncher.ForwardVarlen(accelerator, problem.Shape, problem.Settings, modifiers, q, k, v, cuSeqlensQ, cuSeqlensK, output, lse);

    public void BackwardVarlen<T, TScore, TMask>(Accelerator accelerator, VarlenProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK, ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => AttentionLauncher.BackwardVarlen(accelerator, problem.Shape, problem.Settings, modifiers, q, k, v, output, dOutput, lse,
            cuSeqlensQ, cuSeqlensK, dq, dk, dv);

    public void ForwardKvCache<T, TScore, TMask>(Accelerator accelerator, KvCacheProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> kCache, ArrayView<T> vCache, ArrayView<T> kNew, ArrayView<T> vNew, KvCacheIndex index,
        ArrayView<T> output, ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => AttentionLauncher.ForwardKvCache(accelerator, problem.Shape, problem.Settings, problem.Splits, modifiers, q, kCache, vCache,
            kNew, vNew, index, output, lse);
}
