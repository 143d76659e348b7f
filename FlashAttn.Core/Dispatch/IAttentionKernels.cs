using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Kernels;

namespace FlashAttn.Dispatch;

/// <summary>
/// The kernels behind <see cref="FlashAttention"/>: the launcher of FlashAttn.Kernels in production; tests may
/// substitute another per <see cref="Device"/>. Arguments are validated before these are called.
/// </summary>
internal interface IAttentionKernels
{
    /// <summary>q: (b, s_q, h_q, d); k, v: (b, s_k, h_kv, d); output: (b, s_q, h_q, d); lse: (b, h_q, s_q).</summary>
    void Forward<T>(Accelerator accelerator, AttentionProblem problem,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse) where T : unmanaged;

    /// <summary>Shapes as <see cref="Forward{T}"/>; dq like q, dk and dv like k.</summary>
    void Backward<T>(Accelerator accelerator, AttentionProblem problem,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv) where T : unmanaged;

    /// <summary>Packed sequences: q (total_q, h_q, d); k, v (total_k, h_kv, d); cu_seqlens (b + 1) int32; output like q;
    /// lse (h_q, total_q).</summary>
    void ForwardVarlen<T>(Accelerator accelerator, VarlenProblem problem, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v,
        ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK, ArrayView<T> output, ArrayView<float> lse) where T : unmanaged;

    /// <summary>Shapes as <see cref="ForwardVarlen{T}"/>; dq like q, dk and dv like k.</summary>
    void BackwardVarlen<T>(Accelerator accelerator, VarlenProblem problem, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v,
        ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse, ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv) where T : unmanaged;

    /// <summary>Queries against a KV cache (<see cref="KvCacheShape"/>): appends kNew, vNew (empty when none) to the cache
    /// after each sequence's cached keys, then attends over both. output like q; lse (b, h_q, s_q).</summary>
    void ForwardKvCache<T>(Accelerator accelerator, KvCacheProblem problem, ArrayView<T> q, ArrayView<T> kCache, ArrayView<T> vCache,
        ArrayView<T> kNew, ArrayView<T> vNew, KvCacheIndex index, ArrayView<T> output, ArrayView<float> lse) where T : unmanaged;
}
