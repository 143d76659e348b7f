using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;

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
}
