using FlashAttn.Dispatch;
using FlashAttn.Kernels;

namespace FlashAttn;

public static partial class FlashAttention
{
    /// <summary>
    /// Attention forward pass with score and mask modifiers compiled into the kernels (FlexAttention's score_mod and
    /// mask_mod, as C# structs: see <see cref="IScoreModifier"/>, <see cref="IMaskModifier"/> and docs/modifiers.md).
    /// Scores s = scale · q·k become f(s) with f = the modifiers' score function after
    /// <see cref="AttentionOptions.Softcap"/> and <see cref="AttentionOptions.AlibiSlopes"/> (softcap, then ALiBi, then
    /// <paramref name="modifiers"/>' score modifier); keys the mask modifier hides get no weight, on top of the causal
    /// and window masks. Pass the same modifiers to the backward pass.
    /// </summary>
    /// <typeparam name="T">Element type of q, k, v and the output.</typeparam>
    /// <typeparam name="TScore">The score modifier (<see cref="NoScoreModifier"/> for none).</typeparam>
    /// <typeparam name="TMask">The mask modifier (<see cref="NoMaskModifier"/> for none).</typeparam>
    /// <param name="q">Queries in <see cref="AttentionOptions.Layout"/>: (batch, s_q, heads_q, head_dim) by default.</param>
    /// <param name="k">Keys in <see cref="AttentionOptions.Layout"/>: (batch, s_k, heads_kv, head_dim) by default.</param>
    /// <param name="v">Values, k's shape.</param>
    /// <param name="modifiers">The score and mask modifiers; views they hold must be on q's device.</param>
    /// <param name="options">Scale, masks, built-in modifiers, dropout, log-sum-exp; null for <see cref="AttentionOptions.Default"/>.</param>
    /// <exception cref="ArgumentNullException">A tensor is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device, or the ALiBi slopes do not fit, or the block mask is disposed, built on another device or for another shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> has an invalid scale, window edge, softcap or dropout probability.</exception>
    public static AttentionResult<T> Forward<T, TScore, TMask>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        AttentionModifiers<TScore, TMask> modifiers, AttentionOptions? options = null)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        options ??= AttentionOptions.Default;
        var problem = AttentionValidator.ValidateForward(q, k, v, options);
        return ForwardCore(problem, q, k, v, modifiers, options);
    }

    /// <summary>
    /// <see cref="Forward{T, TScore, TMask}(DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, AttentionModifiers{TScore, TMask}, AttentionOptions?)"/>
    /// into caller-provided tensors (nothing is allocated when <paramref name="lse"/> is given).
    /// </summary>
    /// <param name="q">Queries in <see cref="AttentionOptions.Layout"/>: (batch, s_q, heads_q, head_dim) by default.</param>
    /// <param name="k">Keys in <see cref="AttentionOptions.Layout"/>: (batch, s_k, heads_kv, head_dim) by default.</param>
    /// <param name="v">Values, k's shape.</param>
    /// <param name="output">Receives the output: q's shape, dtype and device; must not overlap q, k or v.</param>
    /// <param name="lse">Receives the log-sum-exp, (batch, heads_q, s_q) fp32 on q's device; or null.</param>
    /// <param name="modifiers">The score and mask modifiers.</param>
    /// <param name="options">Scale, masks, built-in modifiers, dropout (<see cref="AttentionOptions.ReturnLse"/> is ignored).</param>
    /// <exception cref="ArgumentNullException">q, k, v, output or options is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device, a destination overlaps an input, or the ALiBi slopes do not fit, or the block mask is disposed, built on another device or for another shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> has an invalid scale, window edge, softcap or dropout probability.</exception>
    public static void Forward<T, TScore, TMask>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, DeviceTensor<T> output,
        DeviceTensor<float>? lse, AttentionModifiers<TScore, TMask> modifiers, AttentionOptions options)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var problem = AttentionValidator.ValidateForward(q, k, v, options);
        AttentionValidator.CheckDestination(output, q, nameof(q), nameof(output));
        DestinationOverlap.Check(output, nameof(output), q, k, v);
        if (lse is not null)
        {
            AttentionValidator.CheckLse(lse, q, problem, nameof(lse));
            BuiltInModifiers.Compose(options, problem.HeadsQ, modifiers, new ForwardCall<T>(q.Device, problem, q.View, k.View, v.View, output.View, lse.View));
            return;
        }
        // Launches and frees are ordered on the device, so the temporary may go before the kernel has finished.
        using var temporaryLse = DeviceTensor<float>.Allocate(q.Device, [problem.Batch, problem.HeadsQ, problem.SeqLenQ]);
        BuiltInModifiers.Compose(options, problem.HeadsQ, modifiers,
            new ForwardCall<T>(q.Device, problem, q.View, k.View, v.View, output.View, temporaryLse.View));
    }

    /// <summary>
    /// Attention forward pass for training with modifiers: the returned <see cref="TrainingAttention{T}"/> keeps
    /// <paramref name="modifiers"/> and <paramref name="options"/> (with their dropout seed and offset) for its backward.
    /// </summary>
    /// <param name="q">Queries in <see cref="AttentionOptions.Layout"/>: (batch, s_q, heads_q, head_dim) by default; kept by reference: leave it unchanged until the backward.</param>
    /// <param name="k">Keys in <see cref="AttentionOptions.Layout"/>: (batch, s_k, heads_kv, head_dim) by default; kept like q.</param>
    /// <param name="v">Values, k's shape; kept like q.</param>
    /// <param name="modifiers">The score and mask modifiers; the data their views read must also stay unchanged until the backward.</param>
    /// <param name="options">Scale, masks, built-in modifiers, dropout, determinism of the backward; null for <see cref="AttentionOptions.Default"/>.</param>
    /// <exception cref="ArgumentNullException">q, k or v is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device, or the ALiBi slopes do not fit, or the block mask is disposed, built on another device or for another shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> has an invalid scale, window edge, softcap or dropout probability.</exception>
    public static TrainingAttention<T> ForwardForTraining<T, TScore, TMask>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        AttentionModifiers<TScore, TMask> modifiers, AttentionOptions? options = null)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        options ??= AttentionOptions.Default;
        var problem = AttentionValidator.ValidateForward(q, k, v, options);
        var result = ForwardCore(problem, q, k, v, modifiers, options with { ReturnLse = true });
        var (output, lse) = (result.Output, result.Lse!);
        return new TrainingAttention<T>(options, output, lse,
            dOut => Backward(dOut, q, k, v, output, lse, modifiers, options),
            (dOut, dq, dk, dv) => Backward(dOut, q, k, v, output, lse, dq, dk, dv, modifiers, options));
    }

    /// <summary>
    /// Attention backward pass of a forward with modifiers: pass the forward's output and log-sum-exp, and the same
    /// <paramref name="modifiers"/> and options (the score modifier's derivative carries the gradient through it; dropout
    /// regenerates the forward's mask from its seed and offset).
    /// </summary>
    /// <param name="dOut">∂loss/∂output, q's shape and dtype.</param>
    /// <param name="q">Queries in <see cref="AttentionOptions.Layout"/>: (batch, s_q, heads_q, head_dim) by default.</param>
    /// <param name="k">Keys in <see cref="AttentionOptions.Layout"/>: (batch, s_k, heads_kv, head_dim) by default.</param>
    /// <param name="v">Values, k's shape.</param>
    /// <param name="output">The forward output, q's shape.</param>
    /// <param name="lse">The forward log-sum-exp, (batch, heads_q, s_q).</param>
    /// <param name="modifiers">The forward's score and mask modifiers.</param>
    /// <param name="options">The forward call's options; <see cref="AttentionOptions.Deterministic"/> applies here.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device, or the ALiBi slopes do not fit, or the block mask is disposed, built on another device or for another shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> has an invalid scale, window edge, softcap or dropout probability.</exception>
    public static AttentionGradients<T> Backward<T, TScore, TMask>(DeviceTensor<T> dOut, DeviceTensor<T> q, DeviceTensor<T> k,
        DeviceTensor<T> v, DeviceTensor<T> output, DeviceTensor<float> lse, AttentionModifiers<TScore, TMask> modifiers, AttentionOptions options)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var problem = AttentionValidator.ValidateBackward(dOut, q, k, v, output, lse, options);
        return BackwardCore(problem, dOut, q, k, v, output, lse, modifiers, options);
    }

    /// <summary>
    /// <see cref="Backward{T, TScore, TMask}(DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{float}, AttentionModifiers{TScore, TMask}, AttentionOptions)"/>
    /// into caller-provided gradients (overwritten).
    /// </summary>
    /// <param name="dOut">∂loss/∂output, q's shape and dtype.</param>
    /// <param name="q">Queries in <see cref="AttentionOptions.Layout"/>: (batch, s_q, heads_q, head_dim) by default.</param>
    /// <param name="k">Keys in <see cref="AttentionOptions.Layout"/>: (batch, s_k, heads_kv, head_dim) by default.</param>
    /// <param name="v">Values, k's shape.</param>
    /// <param name="output">The forward output, q's shape.</param>
    /// <param name="lse">The forward log-sum-exp, (batch, heads_q, s_q).</param>
    /// <param name="dq">Receives ∂loss/∂q: q's shape, dtype and device.</param>
    /// <param name="dk">Receives ∂loss/∂k: k's shape, dtype and device.</param>
    /// <param name="dv">Receives ∂loss/∂v: v's shape, dtype and device.</param>
    /// <param name="modifiers">The forward's score and mask modifiers.</param>
    /// <param name="options">The forward call's options; <see cref="AttentionOptions.Deterministic"/> applies here.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, has the wrong rank, shape, dtype or device, a gradient overlaps another tensor, or the ALiBi slopes do not fit, or the block mask is disposed, built on another device or for another shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> has an invalid scale, window edge, softcap or dropout probability.</exception>
    public static void Backward<T, TScore, TMask>(DeviceTensor<T> dOut, DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        DeviceTensor<T> output, DeviceTensor<float> lse, DeviceTensor<T> dq, DeviceTensor<T> dk, DeviceTensor<T> dv,
        AttentionModifiers<TScore, TMask> modifiers, AttentionOptions options)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var problem = AttentionValidator.ValidateBackward(dOut, q, k, v, output, lse, options);
        AttentionValidator.CheckDestination(dq, q, nameof(q), nameof(dq));
        AttentionValidator.CheckDestination(dk, k, nameof(k), nameof(dk));
        AttentionValidator.CheckDestination(dv, v, nameof(v), nameof(dv));
        DestinationOverlap.Check(dq, nameof(dq), dOut, q, k, v, output, dk, dv);
        DestinationOverlap.Check(dk, nameof(dk), dOut, q, k, v, output, dv);
        DestinationOverlap.Check(dv, nameof(dv), dOut, q, k, v, output);
        BuiltInModifiers.Compose(options, problem.HeadsQ, modifiers,
            new BackwardCall<T>(q.Device, problem, q.View, k.View, v.View, output.View, dOut.View, lse.View, dq.View, dk.View, dv.View));
    }
}
