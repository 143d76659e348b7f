using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Dispatch;
using FlashAttn.Kernels;

namespace FlashAttn.Bench.Api;

/// <summary>Kernels that launch nothing: a device using them measures the API's own cost (validation, allocation, dispatch).</summary>
internal sealed class NullAttentionKernels : IAttentionKernels
{
    /// <summary>The one instance.</summary>
    public static NullAttentionKernels Instance { get; } = new();

    /// <inheritdoc/>
    public void Forward<T, TScore, TMask>(Accelerator accelerator, AttentionProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
    }

    /// <inheritdoc/>
    public void Backward<T, TScore, TMask>(Accelerator accelerator, AttentionProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
    }

    /// <inheritdoc/>
    public void ForwardVarlen<T, TScore, TMask>(Accelerator accelerator, VarlenProblem problem, AttentionModifiers<TScore, TMask> modifiers, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v,
        ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK, ArrayView<T> output, ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
    }

    /// <inheritdoc/>
    public void BackwardVarlen<T, TScore, TMask>(Accelerator accelerator, VarlenProblem problem, AttentionModifiers<TScore, TMask> modifiers, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v,
        ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse, ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
    }

    /// <inheritdoc/>
    public void ForwardKvCache<T, TScore, TMask>(Accelerator accelerator, KvCacheProblem problem, AttentionModifiers<TScore, TMask> modifiers, ArrayView<T> q, ArrayView<T> kCache, ArrayView<T> vCache,
        ArrayView<T> kNew, ArrayView<T> vNew, KvCacheIndex index, ArrayView<T> output, ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
    }
}
