using System.Diagnostics;
using FlashAttn.Dispatch;
using FlashAttn.Kernels;

namespace FlashAttn.Distributed;

/// <summary>
/// Ring attention (Liu et al., 2023; load-balanced by zig-zag sharding): the forward and backward passes of one rank.
/// The key/value shards travel around the ring, one step per rank; at each step the rank attends its queries to the
/// visiting shard (the block <see cref="RingSchedule"/> gives) while the next shard is already on its way. Forward:
/// partial outputs are merged into an fp32 running output by log-sum-exp. Backward: with the final output and
/// log-sum-exp, each block's gradients are exact contributions; dQ is summed locally in fp32, while the fp32 dK/dV sums
/// travel with their key/value shard and arrive home after a full turn.
/// </summary>
internal static class RingAttention
{
    public static AttentionResult<T> Forward<T>(DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v, AttentionOptions? options,
        ContextParallel parallel) where T : unmanaged
    {
        var problem = RingValidator.Agree(DTypes.Of<T>(), parallel, options, () =>
        {
            var local = AttentionValidator.ValidateForward(q, k, v, options);
            CheckDevice(q, parallel);
            return local;
        });
        ArgumentNullException.ThrowIfNull(options); // never here: Agree refused it on every rank
        var group = parallel.Group;
        var device = q.Device;
        var shard = new ShardShape(problem);
        var rowOps = new RingRows(device);
        int length = shard.Length;
        var lse = DeviceTensor.Empty<float>(device, shard.Lse(length));
        var output = DeviceTensor.Empty<T>(device, q.GetShape());
        try
        {
            using var buffers = new RingBuffers(device);
            var outputSum = buffers.Zeros<float>(q.GetShape());
            var keysValues = new TensorRing<T>(group, buffers, "kv", [k, v], ownsInitial: false);
            for (int step = 0; step < group.Size; step++)
            {
                bool shift = step < group.Size - 1;
                if (shift) keysValues.Start();
                int source = RingSchedule.Source(group.Rank, step, group.Size);
                if (RingSchedule.Block(parallel.Sharding, problem.Causal, group.Rank, source, length) is { } block)
                {
                    var rows = shard.QuerySlice(block.QueryStart, block.QueryCount);
                    var keyRows = shard.KeySlice(block.KeyStart, block.KeyCount);
                    var qBlock = buffers.SliceOnce(q, rows, "q", shard.Queries(block.QueryCount));
                    var kBlock = buffers.Slice(keysValues.Current[0], keyRows, "k", shard.KeysValues(block.KeyCount));
                    var vBlock = buffers.Slice(keysValues.Current[1], keyRows, "v", shard.KeysValues(block.KeyCount));
                    var partial = buffers.Get<T>("o", shard.Queries(block.QueryCount));
                    var blockOptions = options with { Causal = block.Causal, ReturnLse = true };
                    if (step == 0)
                    {
                        // the rank's own shard, whole: its log-sum-exp starts the running one
                        Debug.Assert(rows.IsWhole);
                        FlashAttention.Forward(qBlock, kBlock, vBlock, partial, lse, blockOptions);
                        rowOps.Accumulate(partial, outputSum, rows);
                    }
                    else
                    {
                        var partialLse = buffers.Get<float>("lse", shard.Lse(block.QueryCount));
                        FlashAttention.Forward(qBlock, kBlock, vBlock, partial, partialLse, blockOptions);
                        rowOps.Merge(partial, partialLse, outputSum, lse, rows);
                    }
                }
                if (shift) keysValues.Wait();
            }
            rowOps.Store(outputSum, output);
        }
        catch
        {
            // the other ranks would wait for this one's next shift
            group.Abort();
            output.Dispose();
            lse.Dispose();
            throw;
        }
        if (options.ReturnLse) return new AttentionResult<T>(output, lse);
        lse.Dispose();
        return new AttentionResult<T>(output, null);
    }

    /// <summary>The backward; with <paramref name="into"/> the gradients are written there (checked like the
    /// single-device call's destinations) and the result holds those tensors, else they are allocated.</summary>
    public static AttentionGradients<T> Backward<T>(DeviceTensor<T> dOut, DeviceTensor<T> q, DeviceTensor<T> k, DeviceTensor<T> v,
        DeviceTensor<T> output, DeviceTensor<float> lse, AttentionOptions? options, ContextParallel parallel,
        (DeviceTensor<T> Dq, DeviceTensor<T> Dk, DeviceTensor<T> Dv)? into = null) where T : unmanaged
    {
        var problem = RingValidator.Agree(DTypes.Of<T>(), parallel, options, () =>
        {
            var local = AttentionValidator.ValidateBackward(dOut, q, k, v, output, lse, options);
            CheckDevice(q, parallel);
            if (into is var (dqInto, dkInto, dvInto))
            {
                AttentionValidator.CheckDestination(dqInto, q, nameof(q), "dq");
                AttentionValidator.CheckDestination(dkInto, k, nameof(k), "dk");
                AttentionValidator.CheckDestination(dvInto, v, nameof(v), "dv");
                DestinationOverlap.Check(dqInto, "dq", dOut, q, k, v, output, dkInto, dvInto);
                DestinationOverlap.Check(dkInto, "dk", dOut, q, k, v, output, dvInto);
                DestinationOverlap.Check(dvInto, "dv", dOut, q, k, v, output);
            }
            return local;
        });
        ArgumentNullException.ThrowIfNull(options);
        var group = parallel.Group;
        var device = q.Device;
        var shard = new ShardShape(problem);
        var rowOps = new RingRows(device);
        int length = shard.Length;
        var (dq, dk, dv) = into ?? (DeviceTensor.Empty<T>(device, q.GetShape()), DeviceTensor.Empty<T>(device, k.GetShape()),
            DeviceTensor.Empty<T>(device, v.GetShape()));
        try
        {
            using var buffers = new RingBuffers(device);
            var dqSum = buffers.Zeros<float>(q.GetShape());
            var keysValues = new TensorRing<T>(group, buffers, "kv", [k, v], ownsInitial: false);
            var gradientSums = new TensorRing<float>(group, buffers, "dkv",
                [buffers.Zeros<float>(k.GetShape()), buffers.Zeros<float>(v.GetShape())], ownsInitial: true);
            for (int step = 0; step < group.Size; step++)
            {
                bool shift = step < group.Size - 1;
                if (shift) keysValues.Start();
                int source = RingSchedule.Source(group.Rank, step, group.Size);
                var block = RingSchedule.Block(parallel.Sharding, problem.Causal, group.Rank, source, length);
                RowSlice keyRows = default;
                DeviceTensor<T>? dkBlock = null, dvBlock = null;
                if (block is { } b)
                {
                    var rows = shard.QuerySlice(b.QueryStart, b.QueryCount);
                    keyRows = shard.KeySlice(b.KeyStart, b.KeyCount);
                    int[] queryShape = shard.Queries(b.QueryCount), keyShape = shard.KeysValues(b.KeyCount);
                    var dqBlock = buffers.Get<T>("dq", queryShape);
                    dkBlock = buffers.Get<T>("dk", keyShape);
                    dvBlock = buffers.Get<T>("dv", keyShape);
                    FlashAttention.Backward(
                        buffers.SliceOnce(dOut, rows, "dOut", queryShape),
                        buffers.SliceOnce(q, rows, "q", queryShape),
                        buffers.Slice(keysValues.Current[0], keyRows, "k", keyShape),
                        buffers.Slice(keysValues.Current[1], keyRows, "v", keyShape),
                        buffers.SliceOnce(output, rows, "o", queryShape),
                        buffers.SliceOnce(lse, rows.Statistics, "lse", shard.Lse(b.QueryCount)),
                        dqBlock, dkBlock, dvBlock, options with { Causal = b.Causal });
                    rowOps.Accumulate(dqBlock, dqSum, rows);
                }
                // the visiting shard's gradient sums follow it one step behind
                if (step > 0) gradientSums.Wait();
                if (dkBlock is not null)
                {
                    rowOps.Accumulate(dkBlock, gradientSums.Current[0], keyRows);
                    rowOps.Accumulate(dvBlock!, gradientSums.Current[1], keyRows);
                }
                if (shift) keysValues.Wait();
                if (group.Size > 1) gradientSums.Start();
            }
            // after a full turn each rank holds its own shard's sums again
            if (group.Size > 1) gradientSums.Wait();
            rowOps.Store(dqSum, dq);
            rowOps.Store(gradientSums.Current[0], dk);
            rowOps.Store(gradientSums.Current[1], dv);
        }
        catch
        {
            group.Abort();
            if (into is null)
            {
                dq.Dispose();
                dk.Dispose();
                dv.Dispose();
            }
            throw;
        }
        return new AttentionGradients<T>(dq, dk, dv);
    }

    private static void CheckDevice(DeviceTensor q, ContextParallel parallel)
    {
        if (q.Device != parallel.Group.Device)
            throw new ArgumentException($"q must be on this rank's device ({parallel.Group.Device}); actual {q.Device}.", nameof(q));
    }
}
