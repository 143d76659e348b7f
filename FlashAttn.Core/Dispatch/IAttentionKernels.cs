using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Kernels;

namespace FlashAttn.Dispatch;

/// <summary>
/// The kernels behind <see cref="FlashAttention"/>: the launcher of FlashAttn.Kernels in production; tests may
/// substitute another per <see cref="Device"/>. Arguments are validated before these are called. Every pass takes the
/// call's score and mask modifiers (<see cref="AttentionModifiers{TScore, TMask}"/>; the no-op ones for plain attention)
/// and finds dropout in the problem's settings; the plain overloads pass the no-op modifiers.
/// </summary>
internal interface IAttentionKernels
{
    /// <summary>q: (b, s_q, h_q, d); k, v: (b, s_k, h_kv, d); output: (b, s_q, h_q, d) — (b, h, s, d) each when the problem's
    /// <see cref="AttentionProblem.Layout"/> says so; lse: (b, h_q, s_q).</summary>
    void Forward<T, TScore, TMask>(Accelerator accelerator, AttentionProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier;

    /// <summary>Shapes as <see cref="Forward{T, TScore, TMask}"/>; dq like q, dk and dv like k; the forward's modifiers.</summary>
    void Backward<T, TScore, TMask>(Accelerator accelerator, AttentionProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier;

    /// <summary>Packed sequences: q (total_q, h_q, d); k, v (total_k, h_kv, d); cu_seqlens (b + 1) int32; output like q;
    /// lse (h_q, total_q). Modifiers see a sequence's index as <see cref="ScorePosition.Batch"/>.</summary>
    void ForwardVarlen<T, TScore, TMask>(Accelerator accelerator, VarlenProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK, ArrayView<T> output,
        ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier;

    /// <summary>Shapes as <see cref="ForwardVarlen{T, TScore, TMask}"/>; dq like q, dk and dv like k.</summary>
    void BackwardVarlen<T, TScore, TMask>(Accelerator accelerator, VarlenProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK, ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier;

    /// <summary>Queries against a KV cache (<see cref="KvCacheShape"/>): appends kNew, vNew (empty when none) to the cache
    /// after each sequence's cached keys, then attends over both. output like q; lse (b, h_q, s_q). No dropout.</summary>
    void ForwardKvCache<T, TScore, TMask>(Accelerator accelerator, KvCacheProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> kCache, ArrayView<T> vCache, ArrayView<T> kNew, ArrayView<T> vNew, KvCacheIndex index,
        ArrayView<T> output, ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier;

    /// <summary>Plain attention: <see cref="Forward{T, TScore, TMask}"/> without modifiers.</summary>
    void Forward<T>(Accelerator accelerator, AttentionProblem problem,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse) where T : unmanaged
        => Forward(accelerator, problem, Plain, q, k, v, output, lse);

    /// <summary>Plain attention: <see cref="Backward{T, TScore, TMask}"/> without modifiers.</summary>
    void Backward<T>(Accelerator accelerator, AttentionProblem problem,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv) where T : unmanaged
        => Backward(accelerator, problem, Plain, q, k, v, output, dOutput, lse, dq, dk, dv);

    /// <summary>No modifiers: plain attention.</summary>
    static AttentionModifiers<NoScoreModifier, NoMaskModifier> Plain => default;
}
