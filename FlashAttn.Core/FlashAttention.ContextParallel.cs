using FlashAttn.Distributed;

namespace FlashAttn;

public static partial class FlashAttention
{
    /// <summary>
    /// Attention forward pass with context parallelism (ring attention): called by every rank of
    /// <paramref name="parallel"/>'s group at once (each from its own thread or process) with its own shards of the
    /// sequence; each rank gets the output and log-sum-exp of its query shard, equal to those of single-device attention
    /// over the whole sequence. Self-attention: the global query and key sequences are one sequence, sharded alike.
    /// </summary>
    /// <param name="q">This rank's query shard in <see cref="AttentionOptions.Layout"/>: (batch, s/n, heads_q, head_dim) by default, positions as <see cref="ContextParallel.LocalPositions"/> lists them.</param>
    /// <param name="k">This rank's key shard: (batch, s/n, heads_kv, head_dim).</param>
    /// <param name="v">This rank's value shard, k's shape.</param>
    /// <param name="options">Scale, causal mask (over global positions), softcap, fp32 math, layout. Sliding windows, ALiBi and
    /// dropout are refused. The log-sum-exp (needed by the backward) is returned with <see cref="AttentionOptions.ReturnLse"/>.</param>
    /// <param name="parallel">The rank's process group and the sharding.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A tensor is invalid as for the single-device call, not on the group's device, k's shard
    /// length differs from q's, a shard does not split into the sharding's chunks, an option is not supported, or the ranks'
    /// shapes or options differ (every rank throws: the rank at fault its own exception, the others one naming it).</exception>
    public static AttentionResult<T> Forward<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, AttentionOptions options,
        ContextParallel parallel) where T : unmanaged
        => RingAttention.Forward(q, k, v, options, parallel); // a null options is refused on every rank together

    /// <summary>
    /// Attention backward pass with context parallelism: called by every rank at once with its shards, its forward output
    /// and log-sum-exp; returns the gradients of its own q, k and v shards.
    /// </summary>
    /// <param name="dOut">∂loss/∂output of this rank's shard, q's shape.</param>
    /// <param name="q">This rank's query shard.</param>
    /// <param name="k">This rank's key shard.</param>
    /// <param name="v">This rank's value shard.</param>
    /// <param name="output">This rank's forward output.</param>
    /// <param name="lse">This rank's forward log-sum-exp, (batch, heads_q, s/n).</param>
    /// <param name="options">The forward call's options; <see cref="AttentionOptions.Deterministic"/> applies here.</param>
    /// <param name="parallel">The forward call's process group and sharding.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">As for <see cref="Forward{T}(DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, AttentionOptions, ContextParallel)"/>.</exception>
    public static AttentionGradients<T> Backward<T>(DeviceTensor<T> dOut, DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        DeviceTensor<T> output, DeviceTensor<float> lse, AttentionOptions options, ContextParallel parallel) where T : unmanaged
        => RingAttention.Backward(dOut, q, k, v, output, lse, options, parallel);

    /// <summary>
    /// Attention forward pass for training with context parallelism: as
    /// <see cref="ForwardForTraining{T}(DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, AttentionOptions?)"/> for this
    /// rank's shards, its <see cref="TrainingAttention{T}.Backward(DeviceTensor{T})"/> running the ring backward (a
    /// collective: every rank calls it at once).
    /// </summary>
    /// <param name="q">This rank's query shard (kept by reference until the backward).</param>
    /// <param name="k">This rank's key shard (kept like q).</param>
    /// <param name="v">This rank's value shard (kept like q).</param>
    /// <param name="options">As for <see cref="Forward{T}(DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, AttentionOptions, ContextParallel)"/>; null for <see cref="AttentionOptions.Default"/>.</param>
    /// <param name="parallel">The rank's process group and the sharding.</param>
    /// <exception cref="ArgumentNullException">q, k, v or parallel is null.</exception>
    /// <exception cref="ArgumentException">As for <see cref="Forward{T}(DeviceTensor{T}, DeviceTensor{T}, DeviceTensor{T}, AttentionOptions, ContextParallel)"/>.</exception>
    public static TrainingAttention<T> ForwardForTraining<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        AttentionOptions? options, ContextParallel parallel) where T : unmanaged
    {
        options ??= AttentionOptions.Default;
        var result = RingAttention.Forward(q, k, v, options with { ReturnLse = true }, parallel);
        var (output, lse) = (result.Output, result.Lse!);
        return new TrainingAttention<T>(options, output, lse,
            dOut => RingAttention.Backward(dOut, q, k, v, output, lse, options, parallel),
            (dOut, dq, dk, dv) => RingAttention.Backward(dOut, q, k, v, output, lse, options, parallel, (dq, dk, dv)));
    }
}
