using FlashAttn.Dispatch;
using FlashAttn.Kernels;

namespace FlashAttn;

public static partial class FlashAttention
{
    /// <summary>
    /// Variable-length attention forward over packed sequences (flash-attn's <c>flash_attn_varlen_func</c>): sequence i
    /// owns queries [cuSeqlensQ[i], cuSeqlensQ[i + 1]) and keys [cuSeqlensK[i], cuSeqlensK[i + 1]) and attends only to
    /// its own keys. Causal masks apply per sequence (bottom-right by default: query i sees key j when
    /// j ≤ i + s_k,i − s_q,i; <see cref="CausalAlignment.TopLeft"/>: j ≤ i). A query row that sees no key (e.g. a
    /// sequence with 0 keys) gets output 0 and log-sum-exp +∞.
    /// </summary>
    /// <param name="q">Queries (total_q, heads_q, head_dim).</param>
    /// <param name="k">Keys (total_k, heads_kv, head_dim); heads_kv divides heads_q.</param>
    /// <param name="v">Values, k's shape.</param>
    /// <param name="cuSeqlensQ">int32 (batch + 1): cumulative query counts, from 0 to total_q, nondecreasing.</param>
    /// <param name="cuSeqlensK">int32 (batch + 1): cumulative key counts, from 0 to total_k, nondecreasing.</param>
    /// <param name="maxSeqlenQ">At least the longest query range (sizes the launch grid).</param>
    /// <param name="maxSeqlenK">At least the longest key range.</param>
    /// <param name="options">Scale, mask, log-sum-exp, index validation; null for <see cref="AttentionOptions.Default"/>.</param>
    /// <returns>The output (total_q, heads_q, head_dim) and, with <see cref="AttentionOptions.ReturnLse"/>, the
    /// log-sum-exp (heads_q, total_q) in fp32, natural log; owned by the caller.</returns>
    /// <exception cref="ArgumentNullException">A tensor is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device, or (with
    /// <see cref="AttentionOptions.ValidateIndexContents"/>) cu_seqlens are not valid for the totals and maxima.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A maximum is negative or too small, or the scale is not finite and positive.</exception>
    public static AttentionResult<T> ForwardVarlen<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        DeviceTensor<int> cuSeqlensQ, DeviceTensor<int> cuSeqlensK, int maxSeqlenQ, int maxSeqlenK, AttentionOptions? options = null)
        where T : unmanaged
        => ForwardVarlen(q, k, v, cuSeqlensQ, cuSeqlensK, maxSeqlenQ, maxSeqlenK, Plain, options);

    /// <summary>
    /// <see cref="ForwardVarlen{T}"/> with score and mask modifiers (see
    /// <see cref="Forward{T, TScore, TMask}(DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, AttentionModifiers{TScore, TMask}, AttentionOptions?)"/>):
    /// the modifiers see each sequence's index as <see cref="ScorePosition.Batch"/> and positions within the sequence.
    /// </summary>
    /// <param name="q">Queries (total_q, heads_q, head_dim).</param>
    /// <param name="k">Keys (total_k, heads_kv, head_dim); heads_kv divides heads_q.</param>
    /// <param name="v">Values, k's shape.</param>
    /// <param name="cuSeqlensQ">int32 (batch + 1): cumulative query counts, from 0 to total_q, nondecreasing.</param>
    /// <param name="cuSeqlensK">int32 (batch + 1): cumulative key counts, from 0 to total_k, nondecreasing.</param>
    /// <param name="maxSeqlenQ">At least the longest query range.</param>
    /// <param name="maxSeqlenK">At least the longest key range.</param>
    /// <param name="modifiers">The score and mask modifiers.</param>
    /// <param name="options">Scale, masks, built-in modifiers, dropout, log-sum-exp, index validation; null for <see cref="AttentionOptions.Default"/>.</param>
    /// <returns>The output (total_q, heads_q, head_dim) and, with <see cref="AttentionOptions.ReturnLse"/>, the log-sum-exp (heads_q, total_q).</returns>
    /// <exception cref="ArgumentNullException">A tensor is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device, cu_seqlens are not valid, or the ALiBi slopes do not fit.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A maximum is too small, or an option value is out of range.</exception>
    public static AttentionResult<T> ForwardVarlen<T, TScore, TMask>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        DeviceTensor<int> cuSeqlensQ, DeviceTensor<int> cuSeqlensK, int maxSeqlenQ, int maxSeqlenK, AttentionModifiers<TScore, TMask> modifiers,
        AttentionOptions? options = null)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        options ??= AttentionOptions.Default;
        var problem = VarlenValidator.ValidateForward(q, k, v, cuSeqlensQ, cuSeqlensK, maxSeqlenQ, maxSeqlenK, options);
        var (device, shape) = (q.Device, problem.Shape);
        return WithOutputs<T>(device, [shape.TotalQ, shape.HeadsQ, shape.HeadDim], [shape.HeadsQ, shape.TotalQ], options.ReturnLse,
            (output, lse) => BuiltInModifiers.Compose(options, shape.HeadsQ, modifiers, new VarlenForwardCall<T>(device, problem, q.View, k.View,
                v.View, cuSeqlensQ.View, cuSeqlensK.View, output.View, lse.View)));
    }

    /// <summary>
    /// Variable-length attention backward: the gradients with respect to q, k and v of the packed sequences of
    /// <see cref="ForwardVarlen{T}"/>, given ∂loss/∂output. Pass the forward's output, its log-sum-exp (forward with
    /// <see cref="AttentionOptions.ReturnLse"/>), the same cu_seqlens and the same scale and mask options.
    /// </summary>
    /// <param name="dOut">∂loss/∂output, q's shape and dtype.</param>
    /// <param name="q">Queries (total_q, heads_q, head_dim).</param>
    /// <param name="k">Keys (total_k, heads_kv, head_dim).</param>
    /// <param name="v">Values, k's shape.</param>
    /// <param name="output">The forward output, q's shape.</param>
    /// <param name="lse">The forward log-sum-exp, (heads_q, total_q) fp32.</param>
    /// <param name="cuSeqlensQ">int32 (batch + 1), as in the forward.</param>
    /// <param name="cuSeqlensK">int32 (batch + 1), as in the forward.</param>
    /// <param name="maxSeqlenQ">At least the longest query range.</param>
    /// <param name="maxSeqlenK">At least the longest key range (sizes the backward's grid).</param>
    /// <param name="options">The forward call's options; <see cref="AttentionOptions.Deterministic"/> applies here.</param>
    /// <returns>dq like q, dk and dv like k, owned by the caller (keys of a sequence without queries get 0).</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device, or cu_seqlens are not valid.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A maximum is negative or too small, or the scale is not finite and positive.</exception>
    public static AttentionGradients<T> BackwardVarlen<T>(DeviceTensor<T> dOut, DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        DeviceTensor<T> output, DeviceTensor<float> lse, DeviceTensor<int> cuSeqlensQ, DeviceTensor<int> cuSeqlensK,
        int maxSeqlenQ, int maxSeqlenK, AttentionOptions options) where T : unmanaged
        => BackwardVarlen(dOut, q, k, v, output, lse, cuSeqlensQ, cuSeqlensK, maxSeqlenQ, maxSeqlenK, Plain, options);

    /// <summary>
    /// <see cref="BackwardVarlen{T}"/> of a <see cref="ForwardVarlen{T, TScore, TMask}"/>: pass the same modifiers and options.
    /// </summary>
    /// <param name="dOut">∂loss/∂output, q's shape and dtype.</param>
    /// <param name="q">Queries (total_q, heads_q, head_dim).</param>
    /// <param name="k">Keys (total_k, heads_kv, head_dim).</param>
    /// <param name="v">Values, k's shape.</param>
    /// <param name="output">The forward output, q's shape.</param>
    /// <param name="lse">The forward log-sum-exp, (heads_q, total_q) fp32.</param>
    /// <param name="cuSeqlensQ">int32 (batch + 1), as in the forward.</param>
    /// <param name="cuSeqlensK">int32 (batch + 1), as in the forward.</param>
    /// <param name="maxSeqlenQ">At least the longest query range.</param>
    /// <param name="maxSeqlenK">At least the longest key range.</param>
    /// <param name="modifiers">The forward's score and mask modifiers.</param>
    /// <param name="options">The forward call's options; <see cref="AttentionOptions.Deterministic"/> applies here.</param>
    /// <returns>dq like q, dk and dv like k, owned by the caller.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device, cu_seqlens are not valid, or the ALiBi slopes do not fit.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A maximum is too small, or an option value is out of range.</exception>
    public static AttentionGradients<T> BackwardVarlen<T, TScore, TMask>(DeviceTensor<T> dOut, DeviceTensor<T> q, DeviceTensor<T> k,
        DeviceTensor<T> v, DeviceTensor<T> output, DeviceTensor<float> lse, DeviceTensor<int> cuSeqlensQ, DeviceTensor<int> cuSeqlensK,
        int maxSeqlenQ, int maxSeqlenK, AttentionModifiers<TScore, TMask> modifiers, AttentionOptions options)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var problem = VarlenValidator.ValidateBackward(dOut, q, k, v, output, lse, cuSeqlensQ, cuSeqlensK, maxSeqlenQ, maxSeqlenK, options);
        return WithGradients(q, k, v, (dq, dk, dv) => BuiltInModifiers.Compose(options, problem.Shape.HeadsQ, modifiers,
            new VarlenBackwardCall<T>(q.Device, problem, q.View, k.View, v.View, output.View, dOut.View, lse.View, cuSeqlensQ.View,
                cuSeqlensK.View, dq.View, dk.View, dv.View)));
    }
}
