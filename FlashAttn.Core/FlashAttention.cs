using FlashAttn.Compute;
using FlashAttn.Dispatch;
using FlashAttn.Kernels;

namespace FlashAttn;

/// <summary>
/// Exact scaled dot-product attention without materialising the s_q × s_k score matrix (FlashAttention-2):
/// O = softmax(scale · Q Kᵀ + mask) V, computed tile by tile on the tensors' <see cref="Device"/>.
/// </summary>
/// <remarks>
/// <para>Shapes: q is (batch, s_q, heads_q, head_dim); k and v are (batch, s_k, heads_kv, head_dim); the output
/// has q's shape and dtype; the log-sum-exp is (batch, heads_q, s_q) in fp32. head_dim is at most 256. With
/// <see cref="AttentionOptions.Layout"/> = <see cref="AttentionLayout.BatchHeadSeqDim"/> (PyTorch's) q, k, v, the output,
/// dOut and the gradients are (batch, heads, seqlen, head_dim) instead, read and written in place (no permute copy);
/// the log-sum-exp keeps its shape.</para>
/// <para>Grouped-query / multi-query attention: heads_q must be a multiple of heads_kv, and query head g uses kv head
/// g / (heads_q / heads_kv).</para>
/// <para>Masking: with <see cref="AttentionOptions.Causal"/>, query i sees key j when j ≤ i + s_k − s_q
/// (<see cref="CausalAlignment.BottomRight"/>, the default, as flash-attn) or j ≤ i
/// (<see cref="CausalAlignment.TopLeft"/>, as PyTorch's is_causal). A row that sees no key (possible when
/// s_q &gt; s_k with bottom-right alignment) yields an output of 0 and a log-sum-exp of +∞.
/// <see cref="AttentionOptions.WindowLeft"/> and <see cref="AttentionOptions.WindowRight"/> add flash-attn's sliding
/// window around the same diagonal (i + s_k − s_q or i), alone or with the causal mask.</para>
/// <para>Every argument is validated before anything is allocated or launched: a failure is an
/// <see cref="ArgumentException"/> (<see cref="ArgumentNullException"/>, <see cref="ArgumentOutOfRangeException"/>)
/// whose ParamName names the argument. Disposed tensors are reported as <see cref="ArgumentException"/>s too.</para>
/// <para>NaN and ±∞ are not checked for and propagate per row as in PyTorch's attention: a NaN or infinity in query
/// row i makes output row i NaN (and only it); a NaN in key or value row j makes NaN every output row that attends to
/// key j. An infinite key gives that key a score of +∞ or −∞ by the sign of the product: −∞ simply masks the key, +∞
/// makes the row NaN. Rows whose causal window excludes key j in a separate tile stay finite; a row that shares a tile
/// with a masked NaN value may still get 0·NaN = NaN, as in PyTorch's math path.</para>
/// <para>Calls are issued to the device in order; reading a result (<see cref="DeviceTensor{T}.ToArray"/>,
/// <see cref="DeviceTensor{T}.Download"/>) waits for it.</para>
/// </remarks>
public static partial class FlashAttention
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
    /// <param name="q">Queries in <see cref="AttentionOptions.Layout"/>: (batch, s_q, heads_q, head_dim) by default.</param>
    /// <param name="k">Keys in <see cref="AttentionOptions.Layout"/>: (batch, s_k, heads_kv, head_dim) by default.</param>
    /// <param name="v">Values, k's shape.</param>
    /// <param name="options">Scale, mask, determinism, whether to return the log-sum-exp.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> has a non-finite or non-positive scale, or a window edge below −1.</exception>
    public static AttentionResult<T> Forward<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, AttentionOptions options)
        where T : unmanaged
        => Forward(q, k, v, Plain, options ?? throw new ArgumentNullException(nameof(options)));

    /// <summary>
    /// Attention forward pass into caller-provided tensors: nothing is allocated when <paramref name="lse"/> is given
    /// (without it, a temporary log-sum-exp lives for the call). Reuse the destinations across calls, e.g. per layer.
    /// </summary>
    /// <param name="q">Queries in <see cref="AttentionOptions.Layout"/>: (batch, s_q, heads_q, head_dim) by default.</param>
    /// <param name="k">Keys in <see cref="AttentionOptions.Layout"/>: (batch, s_k, heads_kv, head_dim) by default.</param>
    /// <param name="v">Values, k's shape.</param>
    /// <param name="output">Receives the output: q's shape, dtype and device; must not overlap q, k or v.</param>
    /// <param name="lse">Receives the log-sum-exp, (batch, heads_q, s_q) fp32 on q's device; or null.</param>
    /// <param name="options">Scale and mask (<see cref="AttentionOptions.ReturnLse"/> is ignored: <paramref name="lse"/> decides).</param>
    /// <exception cref="ArgumentNullException">q, k, v, output or options is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device, or a destination overlaps an input.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> has a non-finite or non-positive scale, or a window edge below −1.</exception>
    public static void Forward<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
        DeviceTensor<float>? lse, AttentionOptions options) where T : unmanaged
        => Forward(q, k, v, output, lse, Plain, options ?? throw new ArgumentNullException(nameof(options)));

    /// <summary>
    /// Attention forward pass for training: returns the output together with what the backward pass needs (q, k, v,
    /// the log-sum-exp and <paramref name="options"/>), so that <see cref="TrainingAttention{T}.Backward(DeviceTensor{T})"/>
    /// cannot be called with a mismatched log-sum-exp or mask.
    /// </summary>
    /// <param name="q">Queries in <see cref="AttentionOptions.Layout"/>: (batch, s_q, heads_q, head_dim) by default; kept by reference, not copied: leave it unchanged until the backward.</param>
    /// <param name="k">Keys in <see cref="AttentionOptions.Layout"/>: (batch, s_k, heads_kv, head_dim) by default; kept like q.</param>
    /// <param name="v">Values, k's shape; kept like q.</param>
    /// <param name="options">Scale, mask, determinism of the backward; null for <see cref="AttentionOptions.Default"/>.</param>
    /// <exception cref="ArgumentNullException">q, k or v is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> has a non-finite or non-positive scale, or a window edge below −1.</exception>
    public static TrainingAttention<T> ForwardForTraining<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        AttentionOptions? options = null) where T : unmanaged
        => ForwardForTraining(q, k, v, Plain, options);

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
    /// <param name="q">Queries in <see cref="AttentionOptions.Layout"/>: (batch, s_q, heads_q, head_dim) by default.</param>
    /// <param name="k">Keys in <see cref="AttentionOptions.Layout"/>: (batch, s_k, heads_kv, head_dim) by default, q's dtype.</param>
    /// <param name="v">Values, k's shape, q's dtype.</param>
    /// <param name="options">Scale, mask, determinism, whether to return the log-sum-exp.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> has a non-finite or non-positive scale, or a window edge below −1.</exception>
    public static AttentionResult Forward(DeviceTensor q, DeviceTensor k, DeviceTensor v, AttentionOptions options)
    {
        var problem = AttentionValidator.ValidateForward(q, k, v, options);
        return q.DType switch
        {
            DType.Float32 => ForwardCore(problem, (DeviceTensor<float>)q, (DeviceTensor<float>)k, (DeviceTensor<float>)v, Plain, options),
            DType.Float16 => ForwardCore(problem, (DeviceTensor<Half>)q, (DeviceTensor<Half>)k, (DeviceTensor<Half>)v, Plain, options),
            DType.BFloat16 => ForwardCore(problem, (DeviceTensor<BFloat16>)q, (DeviceTensor<BFloat16>)k, (DeviceTensor<BFloat16>)v, Plain, options),
            _ => throw AttentionValidator.UnreachableDtype(q.DType),
        };
    }

    /// <summary>
    /// Attention backward pass: the gradients of a loss with respect to q, k and v, given its gradient
    /// <paramref name="dOut"/> with respect to the forward output. Pass the forward call's output and log-sum-exp
    /// (forward with <see cref="AttentionOptions.ReturnLse"/>) and the same scale and mask options.
    /// </summary>
    /// <param name="dOut">∂loss/∂output, q's shape and dtype.</param>
    /// <param name="q">Queries in <see cref="AttentionOptions.Layout"/>: (batch, s_q, heads_q, head_dim) by default.</param>
    /// <param name="k">Keys in <see cref="AttentionOptions.Layout"/>: (batch, s_k, heads_kv, head_dim) by default.</param>
    /// <param name="v">Values, k's shape.</param>
    /// <param name="output">The forward output, q's shape.</param>
    /// <param name="lse">The forward log-sum-exp, (batch, heads_q, s_q).</param>
    /// <param name="options">The forward call's options (scale, mask); <see cref="AttentionOptions.Deterministic"/> applies here.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> has a non-finite or non-positive scale, or a window edge below −1.</exception>
    public static AttentionGradients<T> Backward<T>(DeviceTensor<T> dOut, DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        DeviceTensor<T> output, DeviceTensor<float> lse, AttentionOptions options) where T : unmanaged
        => Backward(dOut, q, k, v, output, lse, Plain, options ?? throw new ArgumentNullException(nameof(options)));

    /// <summary>
    /// Attention backward pass into caller-provided gradients (no allocation for them; the device keeps its own scratch
    /// space between calls, see <see cref="Device.CachedBytes"/>). Arguments as
    /// <see cref="Backward{T}(DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{float}, AttentionOptions)"/>.
    /// </summary>
    /// <param name="dOut">∂loss/∂output, q's shape and dtype.</param>
    /// <param name="q">Queries in <see cref="AttentionOptions.Layout"/>: (batch, s_q, heads_q, head_dim) by default.</param>
    /// <param name="k">Keys in <see cref="AttentionOptions.Layout"/>: (batch, s_k, heads_kv, head_dim) by default.</param>
    /// <param name="v">Values, k's shape.</param>
    /// <param name="output">The forward output, q's shape.</param>
    /// <param name="lse">The forward log-sum-exp, (batch, heads_q, s_q).</param>
    /// <param name="dq">Receives ∂loss/∂q: q's shape, dtype and device; overwritten, not accumulated into.</param>
    /// <param name="dk">Receives ∂loss/∂k: k's shape, dtype and device; overwritten.</param>
    /// <param name="dv">Receives ∂loss/∂v: v's shape, dtype and device; overwritten.</param>
    /// <param name="options">The forward call's options (scale, mask); <see cref="AttentionOptions.Deterministic"/> applies here.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device, or a gradient overlaps an input or another gradient.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> has a non-finite or non-positive scale, or a window edge below −1.</exception>
    public static void Backward<T>(DeviceTensor<T> dOut, DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        DeviceTensor<T> output, DeviceTensor<float> lse, DeviceTensor<T> dq, DeviceTensor<T> dk, DeviceTensor<T> dv,
        AttentionOptions options) where T : unmanaged
        => Backward(dOut, q, k, v, output, lse, dq, dk, dv, Plain, options ?? throw new ArgumentNullException(nameof(options)));

    /// <summary>
    /// Attention backward pass on tensors of any (matching) dtype; see
    /// <see cref="Backward{T}(DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{float}, AttentionOptions)"/>.
    /// </summary>
    /// <param name="dOut">∂loss/∂output, q's shape and dtype.</param>
    /// <param name="q">Queries in <see cref="AttentionOptions.Layout"/>: (batch, s_q, heads_q, head_dim) by default.</param>
    /// <param name="k">Keys in <see cref="AttentionOptions.Layout"/>: (batch, s_k, heads_kv, head_dim) by default, q's dtype.</param>
    /// <param name="v">Values, k's shape, q's dtype.</param>
    /// <param name="output">The forward output, q's shape and dtype.</param>
    /// <param name="lse">The forward log-sum-exp, (batch, heads_q, s_q), fp32.</param>
    /// <param name="options">The forward call's options (scale, mask); <see cref="AttentionOptions.Deterministic"/> applies here.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> has a non-finite or non-positive scale, or a window edge below −1.</exception>
    public static AttentionGradients Backward(DeviceTensor dOut, DeviceTensor q, DeviceTensor k, DeviceTensor v,
        DeviceTensor output, DeviceTensor lse, AttentionOptions options)
    {
        var problem = AttentionValidator.ValidateBackward(dOut, q, k, v, output, lse, options);
        var lse32 = (DeviceTensor<float>)lse;
        return q.DType switch
        {
            DType.Float32 => BackwardCore(problem, (DeviceTensor<float>)dOut, (DeviceTensor<float>)q, (DeviceTensor<float>)k,
                (DeviceTensor<float>)v, (DeviceTensor<float>)output, lse32, Plain, options),
            DType.Float16 => BackwardCore(problem, (DeviceTensor<Half>)dOut, (DeviceTensor<Half>)q, (DeviceTensor<Half>)k,
                (DeviceTensor<Half>)v, (DeviceTensor<Half>)output, lse32, Plain, options),
            DType.BFloat16 => BackwardCore(problem, (DeviceTensor<BFloat16>)dOut, (DeviceTensor<BFloat16>)q, (DeviceTensor<BFloat16>)k,
                (DeviceTensor<BFloat16>)v, (DeviceTensor<BFloat16>)output, lse32, Plain, options),
            _ => throw AttentionValidator.UnreachableDtype(q.DType),
        };
    }

    private static readonly AttentionOptions CausalOptions = new() { Causal = true };

    /// <summary>No modifiers beyond <see cref="AttentionOptions"/>' built-ins.</summary>
    private static AttentionModifiers<NoScoreModifier, NoMaskModifier> Plain => default;

    private static AttentionResult<T> ForwardCore<T, TScore, TMask>(AttentionProblem problem, DeviceTensor<T> q, DeviceTensor<T> k,
        DeviceTensor<T> v, AttentionModifiers<TScore, TMask> modifiers, AttentionOptions options)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => WithOutputs<T>(q.Device, q.GetShape(), [problem.Batch, problem.HeadsQ, problem.SeqLenQ], options.ReturnLse,
            (output, lse) => BuiltInModifiers.Compose(options, problem.HeadsQ, modifiers,
                new ForwardCall<T>(q.Device, problem, q.View, k.View, v.View, output.View, lse.View)));

    private static AttentionGradients<T> BackwardCore<T, TScore, TMask>(AttentionProblem problem, DeviceTensor<T> dOut, DeviceTensor<T> q,
        DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output, DeviceTensor<float> lse, AttentionModifiers<TScore, TMask> modifiers,
        AttentionOptions options)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => WithGradients(q, k, v, (dq, dk, dv) => BuiltInModifiers.Compose(options, problem.HeadsQ, modifiers,
            new BackwardCall<T>(q.Device, problem, q.View, k.View, v.View, output.View, dOut.View, lse.View, dq.View, dk.View, dv.View)));

    /// <summary>
    /// Allocates an output and a log-sum-exp of the given shapes, lets <paramref name="forward"/> fill them, and returns
    /// them (the log-sum-exp only with <paramref name="returnLse"/>); on failure frees both.
    /// </summary>
    private static AttentionResult<T> WithOutputs<T>(Device device, int[] outputShape, int[] lseShape, bool returnLse,
        Action<DeviceTensor<T>, DeviceTensor<float>> forward) where T : unmanaged
    {
        DeviceTensor<T>? output = null;
        DeviceTensor<float>? lse = null;
        try
        {
            output = DeviceTensor<T>.Allocate(device, outputShape);
            lse = DeviceTensor<float>.Allocate(device, lseShape);
            forward(output, lse);
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

    /// <summary>Allocates dq, dk, dv like q, k, v, lets <paramref name="backward"/> fill them (it writes every element), and returns them; on failure frees them.</summary>
    private static AttentionGradients<T> WithGradients<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        Action<DeviceTensor<T>, DeviceTensor<T>, DeviceTensor<T>> backward) where T : unmanaged
    {
        var device = q.Device;
        DeviceTensor<T>? dq = null, dk = null, dv = null;
        try
        {
            dq = DeviceTensor<T>.Allocate(device, q.GetShape());
            dk = DeviceTensor<T>.Allocate(device, k.GetShape());
            dv = DeviceTensor<T>.Allocate(device, v.GetShape());
            backward(dq, dk, dv);
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
