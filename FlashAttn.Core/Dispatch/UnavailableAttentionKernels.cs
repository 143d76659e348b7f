using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Dispatch;

/// <summary>Placeholder until the attention launcher is merged: every call throws.</summary>
internal sealed class UnavailableAttentionKernels : IAttentionKernels
{
    public static UnavailableAttentionKernels Instance { get; } = new();

    public void Forward<T>(Accelerator accelerator, AttentionProblem problem,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse) where T : unmanaged
        => throw new NotSupportedException("The attention kernels are not part of this build yet.");

    public void Backward<T>(Accelerator accelerator, AttentionProblem problem,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv) where T : unmanaged
        => throw new NotSupportedException("The attention kernels are not part of this build yet.");
}
