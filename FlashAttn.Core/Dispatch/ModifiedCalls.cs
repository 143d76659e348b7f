using FlashAttn.Compute;
using FlashAttn.Kernels;

namespace FlashAttn.Dispatch;

// The kernel calls of FlashAttention's passes, holding their (validated) arguments until BuiltInModifiers.Compose gives
// them their modifiers.

/// <summary>A dense forward.</summary>
internal readonly record struct ForwardCall<T>(Device Device, AttentionProblem Problem, ArrayView<T> Q, ArrayView<T> K, ArrayView<T> V,
    ArrayView<T> Output, ArrayView<float> Lse) : IModifiedCall where T : unmanaged
{
    public bool HalfPrecision => DTypes.IsHalfPrecision(DTypes.Of<T>());

    public void Run<TScore, TMask>(AttentionModifiers<TScore, TMask> modifiers) where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => Device.AttentionKernels.Forward(Device.Accelerator, Problem, modifiers, Q, K, V, Output, Lse);
}

/// <summary>A dense backward.</summary>
internal readonly record struct BackwardCall<T>(Device Device, AttentionProblem Problem, ArrayView<T> Q, ArrayView<T> K, ArrayView<T> V,
    ArrayView<T> Output, ArrayView<T> DOutput, ArrayView<float> Lse, ArrayView<T> Dq, ArrayView<T> Dk, ArrayView<T> Dv) : IModifiedCall
    where T : unmanaged
{
    public bool HalfPrecision => DTypes.IsHalfPrecision(DTypes.Of<T>());

    public void Run<TScore, TMask>(AttentionModifiers<TScore, TMask> modifiers) where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => Device.AttentionKernels.Backward(Device.Accelerator, Problem, modifiers, Q, K, V, Output, DOutput, Lse, Dq, Dk, Dv);
}

/// <summary>A varlen forward.</summary>
internal readonly record struct VarlenForwardCall<T>(Device Device, VarlenProblem Problem, ArrayView<T> Q, ArrayView<T> K, ArrayView<T> V,
    ArrayView<int> CuSeqlensQ, ArrayView<int> CuSeqlensK, ArrayView<T> Output, ArrayView<float> Lse) : IModifiedCall where T : unmanaged
{
    public bool HalfPrecision => DTypes.IsHalfPrecision(DTypes.Of<T>());

    public void Run<TScore, TMask>(AttentionModifiers<TScore, TMask> modifiers) where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => Device.AttentionKernels.ForwardVarlen(Device.Accelerator, Problem, modifiers, Q, K, V, CuSeqlensQ, CuSeqlensK, Output, Lse);
}

/// <summary>A varlen backward.</summary>
internal readonly record struct VarlenBackwardCall<T>(Device Device, VarlenProblem Problem, ArrayView<T> Q, ArrayView<T> K, ArrayView<T> V,
    ArrayView<T> Output, ArrayView<T> DOutput, ArrayView<float> Lse, ArrayView<int> CuSeqlensQ, ArrayView<int> CuSeqlensK,
    ArrayView<T> Dq, ArrayView<T> Dk, ArrayView<T> Dv) : IModifiedCall where T : unmanaged
{
    public bool HalfPrecision => DTypes.IsHalfPrecision(DTypes.Of<T>());

    public void Run<TScore, TMask>(AttentionModifiers<TScore, TMask> modifiers) where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => Device.AttentionKernels.BackwardVarlen(Device.Accelerator, Problem, modifiers, Q, K, V, Output, DOutput, Lse, CuSeqlensQ, CuSeqlensK,
            Dq, Dk, Dv);
}

/// <summary>A KV-cache forward.</summary>
internal readonly record struct KvCacheForwardCall<T>(Device Device, KvCacheProblem Problem, ArrayView<T> Q, ArrayView<T> KCache,
    ArrayView<T> VCache, ArrayView<T> KNew, ArrayView<T> VNew, KvCacheIndex Index, ArrayView<T> Output, ArrayView<float> Lse) : IModifiedCall
    where T : unmanaged
{
    public bool HalfPrecision => DTypes.IsHalfPrecision(DTypes.Of<T>());

    public void Run<TScore, TMask>(AttentionModifiers<TScore, TMask> modifiers) where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => Device.AttentionKernels.ForwardKvCache(Device.Accelerator, Problem, modifiers, Q, KCache, VCache, KNew, VNew, Index, Output, Lse);
}
