namespace FlashAttn;

/// <summary>
/// A forward pass that remembers what its backward pass needs: q, k and v (by reference), the options and any score
/// and mask modifiers (<see cref="FlashAttention.ForwardForTraining{T, TScore, TMask}"/>), and the output and
/// log-sum-exp it owns. Made by <see cref="FlashAttention.ForwardForTraining{T}(DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, AttentionOptions?)"/>; call
/// <see cref="Backward(DeviceTensor{T})"/> once the loss gradient is known. Dispose it to free the output and the
/// log-sum-exp (q, k and v stay the caller's).
/// </summary>
/// <typeparam name="T">The element type of q, k, v and the output.</typeparam>
/// <example>
/// <code>
/// using var attention = FlashAttention.ForwardForTraining(q, k, v, new AttentionOptions { Causal = true });
/// // ... loss from attention.Output, its gradient dOut ...
/// using var grads = attention.Backward(dOut);   // grads.DQ, grads.DK, grads.DV
/// </code>
/// </example>
public sealed class TrainingAttention<T> : IDisposable where T : unmanaged
{
    private readonly Func<DeviceTensor<T>, AttentionGradients<T>> _backward;
    private readonly Action<DeviceTensor<T>, DeviceTensor<T>, DeviceTensor<T>, DeviceTensor<T>> _backwardInto;

    /// <param name="options">The forward's options.</param>
    /// <param name="output">The forward's output, now owned by this object.</param>
    /// <param name="lse">The forward's log-sum-exp, now owned by this object.</param>
    /// <param name="backward">The backward for dOut with the forward's tensors, options and modifiers.</param>
    /// <param name="backwardInto">The same into (dOut, dq, dk, dv).</param>
    internal TrainingAttention(AttentionOptions options, DeviceTensor<T> output, DeviceTensor<float> lse,
        Func<DeviceTensor<T>, AttentionGradients<T>> backward, Action<DeviceTensor<T>, DeviceTensor<T>, DeviceTensor<T>, DeviceTensor<T>> backwardInto)
    {
        (_backward, _backwardInto) = (backward, backwardInto);
        Options = options;
        Output = output;
        Lse = lse;
    }

    /// <summary>The attention output: q's shape (in the forward's <see cref="AttentionOptions.Layout"/>) and dtype; owned by this object.</summary>
    public DeviceTensor<T> Output { get; }

    /// <summary>The log-sum-exp of each query row, (batch, heads_q, s_q), fp32; owned by this object.</summary>
    public DeviceTensor<float> Lse { get; }

    /// <summary>The forward's options, which the backward reuses (with <see cref="AttentionOptions.ReturnLse"/> as the caller gave it).</summary>
    public AttentionOptions Options { get; }

    /// <summary>The gradients with respect to q, k and v for the loss gradient <paramref name="dOut"/>; owned by the caller.</summary>
    /// <param name="dOut">∂loss/∂output, the output's shape and dtype, on its device.</param>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="dOut"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="dOut"/> is disposed or mis-shaped, or q, k or v was disposed since the forward.</exception>
    public AttentionGradients<T> Backward(DeviceTensor<T> dOut)
    {
        ObjectDisposedException.ThrowIf(Output.IsDisposed || Lse.IsDisposed, this);
        return _backward(dOut);
    }

    /// <summary>The gradients for <paramref name="dOut"/>, written into caller-provided tensors (overwritten).</summary>
    /// <param name="dOut">∂loss/∂output, the output's shape and dtype, on its device.</param>
    /// <param name="dq">Receives ∂loss/∂q: q's shape, dtype and device.</param>
    /// <param name="dk">Receives ∂loss/∂k: k's shape, dtype and device.</param>
    /// <param name="dv">Receives ∂loss/∂v: v's shape, dtype and device.</param>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is disposed, mis-shaped, on another device, or a gradient overlaps another tensor of the call.</exception>
    public void Backward(DeviceTensor<T> dOut, DeviceTensor<T> dq, DeviceTensor<T> dk, DeviceTensor<T> dv)
    {
        ObjectDisposedException.ThrowIf(Output.IsDisposed || Lse.IsDisposed, this);
        _backwardInto(dOut, dq, dk, dv);
    }

    /// <summary>Disposes <see cref="Output"/> and <see cref="Lse"/>.</summary>
    public void Dispose()
    {
        Output.Dispose();
        Lse.Dispose();
    }
}
