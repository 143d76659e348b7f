using FlashAttn.Compute;
using FlashAttn.Dispatch;

namespace FlashAttn;

/// <summary>
/// Exact scaled dot-product attention without materialising the s_q × s_k score matrix (FlashAttention-2):
/// O = softmax(scale · Q Kᵀ + mask) V, computed tile by tile on the tensors' <see cref="Device"/>.
/// </summary>
/// <remarks>
/// <para>Shapes: q is (batch, s_q, heads_q, head_dim); k and v are (batch, s_k, heads_kv, head_dim); the output
/// has q's shape and dtype; the log-sum-exp is (batch, heads_q, s_q) in fp32. head_dim is at most 256.</para>
/// <para>Grouped-query / multi-query attention: heads_q must be a multiple of heads_kv, and query head g uses kv head
/// g / (heads_q / heads_kv).</para>
/// <para>Masking: with <see cref="AttentionOptions.Causal"/>, query i sees key j when j ≤ i + s_k − s_q
/// (<see cref="CausalAlignment.BottomRight"/>, the default, as flash-attn) or j ≤ i
/// (<see cref="CausalAlignment.TopLeft"/>, as PyTorch's is_causal). A row that sees no key (possible when
/// s_q &gt; s_k with bottom-right alignment) yields an output of 0 and a log-sum-exp of +∞.</para>
/// <para>Every argument is validated before anything is allocated or launched: a failure is an
/// <see cref="ArgumentException"/> (<see cref="ArgumentNullException"/>, <see cref="ArgumentOutOfRangeException"/>)
/// whose ParamName names the argument. Disposed tensors are reported as <see cref="ArgumentException"/>s too.</para>
/// <para>Calls are issued to the device in order; reading a result (<see cref="DeviceTensor{T}.ToArray"/>,
/// <see cref="DeviceTensor{T}.Download"/>) waits for it.</para>
/// </remarks>
public static class FlashAttention
{
    /// <summary>Attention forward pass; returns the output (batch, s_q, heads_q, head_dim), owned by the caller.</summary>
    /// <param name="q">Queries (batch, s_q, heads_q, head_dim).</param>
    /// <param name="k">Keys (batch, s_k, heads_kv, head_dim).</param>
    /// <param name="v">Values, k's shape.</param>
    /// <param name="causal">Apply a bottom-right-aligned causal mask.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device.</exception>
    public static DeviceTensor<T> Forward<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, bool causal = false)
        where T : unmanaged
        => Forward(q, k, v, causal ? CausalOptions : AttentionOptions.Default).Output;

    /// <summary>Attention forward pass with <paramref name="options"/>; the result owns the output and the optional log-sum-exp.</summary>
    /// <param name="q">Queries (batch, s_q, heads_q, head_dim).</param>
    /// <param name="k">Keys (batch, s_k, heads_kv, head_dim).</param>
    /// <param name="v">Values, k's shape.</param>
    /// <param name="options">Scale, mask, determinism, whether to return the log-sum-exp.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> has a non-finite or non-positive scale.</exception>
    public static AttentionResult<T> Forward<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, AttentionOptions options)
        where T : unmanaged
    {
        var problem = AttentionValidator.ValidateForward(q, k, v, options);
        return ForwardCore(problem, q, k, v, options.ReturnLse);
    }

    /// <summary>Attention forward pass on tensors of any (matching) dtype; returns the output, owned by the caller.</summary>
    /// <param name="q">Queries (batch, s_q, heads_q, head_dim).</param>
    /// <param name="k">Keys (batch, s_k, heads_kv, head_dim), q's dtype.</param>
    /// <param name="v">Values, k's shape, q's dtype.</param>
    /// <param name="causal">Apply a bottom-right-aligned causal mask.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device.</exception>
    public static DeviceTensor Forward(DeviceTensor q, DeviceTensor k, DeviceTensor v, bool causal = false)
        => Forward(q, k, v, causal ? CausalOptions : AttentionOptions.Default).Output;

    /// <summary>Attention forward pass on tensors of any (matching) dtype, with <paramref name="options"/>.</summary>
    /// <param name="q">Queries (batch, s_q, heads_q, head_dim).</param>
    /// <param name="k">Keys (batch, s_k, heads_kv, head_dim), q's dtype.</param>
    /// <param name="v">Values, k's shape, q's dtype.</param>
    /// <param name="options">Scale, mask, determinism, whether to return the log-sum-exp.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> has a non-finite or non-positive scale.</exception>
    public static AttentionResult Forward(DeviceTensor q, DeviceTensor k, DeviceTensor v, AttentionOptions options)
    {
        var problem = AttentionValidator.ValidateForward(q, k, v, options);
        return q.DType switch
        {
            DType.Float32 => ForwardCore(problem, (DeviceTensor<float>)q, (DeviceTensor<float>)k, (DeviceTensor<float>)v, options.ReturnLse),
            DType.Float16 => ForwardCore(problem, (DeviceTensor<Half>)q, (DeviceTensor<Half>)k, (DeviceTensor<Half>)v, options.ReturnLse),
            _ => ForwardCore(problem, (DeviceTensor<BFloat16>)q, (DeviceTensor<BFloat16>)k, (DeviceTensor<BFloat16>)v, options.ReturnLse),
        };
    }

    /// <summary>
    /// Attention backward pass: the gradients of a loss with respect to q, k and v, given its gradient
    /// <paramref name="dOut"/> with respect to the forward output. Pass the forward call's output and log-sum-exp
    /// (forward with <see cref="AttentionOptions.ReturnLse"/>) and the same scale and mask options.
    /// </summary>
    /// <param name="dOut">∂loss/∂output, q's shape and dtype.</param>
    /// <param name="q">Queries (batch, s_q, heads_q, head_dim).</param>
    /// <param name="k">Keys (batch, s_k, heads_kv, head_dim).</param>
    /// <param name="v">Values, k's shape.</param>
    /// <param name="output">The forward output, q's shape.</param>
    /// <param name="lse">The forward log-sum-exp, (batch, heads_q, s_q).</param>
    /// <param name="options">The forward call's options (scale, mask); <see cref="AttentionOptions.Deterministic"/> applies here.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> has a non-finite or non-positive scale.</exception>
    public static AttentionGradients<T> Backward<T>(DeviceTensor<T> dOut, DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        DeviceTensor<T> output, DeviceTensor<float> lse, AttentionOptions options) where T : unmanaged
    {
        var problem = AttentionValidator.ValidateBackward(dOut, q, k, v, output, lse, options);
        return BackwardCore(problem, dOut, q, k, v, output, lse);
    }

    /// <summary>
    /// Attention backward pass on tensors of any (matching) dtype; see
    /// <see cref="Backward{T}(DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{float}, AttentionOptions)"/>.
    /// </summary>
    /// <param name="dOut">∂loss/∂output, q's shape and dtype.</param>
    /// <param name="q">Queries (batch, s_q, heads_q, head_dim).</param>
    /// <param name="k">Keys (batch, s_k, heads_kv, head_dim), q's dtype.</param>
    /// <param name="v">Values, k's shape, q's dtype.</param>
    /// <param name="output">The forward output, q's shape and dtype.</param>
    /// <param name="lse">The forward log-sum-exp, (batch, heads_q, s_q), fp32.</param>
    /// <param name="options">The forward call's options (scale, mask); <see cref="AttentionOptions.Deterministic"/> applies here.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> has a non-finite or non-positive scale.</exception>
    public static AttentionGradients Backward(DeviceTensor dOut, DeviceTensor q, DeviceTensor k, DeviceTensor v,
        DeviceTensor output, DeviceTensor lse, AttentionOptions options)
    {
        var problem = AttentionValidator.ValidateBackward(dOut, q, k, v, output, lse, options);
        var lse32 = (DeviceTensor<float>)lse;
        return q.DType switch
        {
            DType.Float32 => BackwardCore(problem, (DeviceTensor<float>)dOut, (DeviceTensor<float>)q, (DeviceTensor<float>)k,
                (DeviceTensor<float>)v, (DeviceTensor<float>)output, lse32),
            DType.Float16 => BackwardCore(problem, (DeviceTensor<Half>)dOut, (DeviceTensor<Half>)q, (DeviceTensor<Half>)k,
                (DeviceTensor<Half>)v, (DeviceTensor<Half>)output, lse32),
            _ => BackwardCore(problem, (DeviceTensor<BFloat16>)dOut, (DeviceTensor<BFloat16>)q, (DeviceTensor<BFloat16>)k,
                (DeviceTensor<BFloat16>)v, (DeviceTensor<BFloat16>)output, lse32),
        };
    }

    private static readonly AttentionOptions CausalOptions = new() { Causal = true };

    private static AttentionResult<T> ForwardCore<T>(AttentionProblem problem, DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        bool returnLse) where T : unmanaged
    {
        var device = q.Device;
        DeviceTensor<T>? output = null;
        DeviceTensor<float>? lse = null;
        try
        {
            output = DeviceTensor<T>.Allocate(device, [problem.Batch, problem.SeqLenQ, problem.HeadsQ, problem.HeadDim]);
            lse = DeviceTensor<float>.Allocate(device, [problem.Batch, problem.HeadsQ, problem.SeqLenQ]);
            device.AttentionKernels.Forward(device.Accelerator, problem, q.View, k.View, v.View, output.View, lse.View);
            if (!returnLse)
            {
                // Launches and frees are ordered on the device, so the buffer may go before the kernel has finished.
                lse.Dispose();
                lse = null;
            }
            return new AttentionResult<T>(output, lse);
        }
        catch
        {
            output?.Dispose();
            lse?.Dispose();
            throw;
        }
    }

    private static AttentionGradients<T> BackwardCore<T>(AttentionProblem problem, DeviceTensor<T> dOut, DeviceTensor<T> q,
        DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output, DeviceTensor<float> lse) where T : unmanaged
    {
        var device = q.Device;
        DeviceTensor<T>? dq = null, dk = null, dv = null;
        try
        {
            // The kernels write every element of the gradients.
            dq = DeviceTensor<T>.Allocate(device, q.GetShape());
            dk = DeviceTensor<T>.Allocate(device, k.GetShape());
            dv = DeviceTensor<T>.Allocate(device, v.GetShape());
            device.AttentionKernels.Backward(device.Accelerator, problem, q.View, k.View, v.View, output.View, dOut.View, lse.View,
                dq.View, dk.View, dv.View);
            return new AttentionGradients<T>(dq, dk, dv);
        }
        catch
        {
            dq?.Dispose();
            dk?.Dispose();
            dv?.Dispose();
            throw;
        }
    }
}
