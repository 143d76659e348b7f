using System.Runtime.ExceptionServices;
using FlashAttn.Dispatch;

namespace FlashAttn.Distributed;

/// <summary>
/// Validation of a ring attention call on every rank at once: each rank checks its own arguments, then the ranks
/// exchange what they found (an all-gather of a short descriptor) and either all run or all throw — a rank whose
/// arguments are invalid throws its own exception, the others an <see cref="ArgumentException"/> naming that rank, so
/// that no rank is left waiting in a collective. Shapes, dtypes and options must agree across ranks.
/// </summary>
internal static class RingValidator
{
    private static readonly string[] Fields =
    [
        "dtype", "batch", "shard length", "query heads", "key/value heads", "head_dim", "layout", "causal", "scale", "softcap",
        "sharding", "fp32 math", "deterministic",
    ];

    /// <summary>The local problem, once every rank agrees; <paramref name="validateLocal"/> runs the call's own validation,
    /// <paramref name="dtype"/> is the element type of its tensors.</summary>
    public static AttentionProblem Agree(DType dtype, ContextParallel? parallel, AttentionOptions? options, Func<AttentionProblem> validateLocal)
    {
        ArgumentNullException.ThrowIfNull(parallel);
        if (parallel.Group is null) throw new ArgumentNullException(nameof(parallel), "parallel.Group is null.");
        if (parallel.Group.IsDisposed) throw new ArgumentException("parallel.Group has been disposed.", nameof(parallel));
        var group = parallel.Group;

        AttentionProblem? problem = null;
        ExceptionDispatchInfo? failure = null;
        try
        {
            problem = validateLocal();
            CheckLocal(problem, options!, parallel);
        }
        catch (Exception e) when (e is ArgumentException or ObjectDisposedException)
        {
            failure = ExceptionDispatchInfo.Capture(e);
        }

        var descriptors = group.AllGather(Describe(dtype, problem, options, parallel));
        failure?.Throw();
        for (int rank = 0; rank < descriptors.Length; rank++)
            if (descriptors[rank][0] == 0)
                throw new ArgumentException($"Rank {rank} of the group rejected its arguments (its exception says why); no rank ran.", nameof(parallel));
        for (int field = 0; field < Fields.Length; field++)
            for (int rank = 1; rank < descriptors.Length; rank++)
                if (descriptors[rank][field + 1] != descriptors[0][field + 1])
                    throw new ArgumentException(
                        $"The ranks disagree on the {Fields[field]}: rank 0 has {Show(field, descriptors[0][field + 1])}, rank {rank} " +
                        $"{Show(field, descriptors[rank][field + 1])}. Every rank passes shards of the same shape and the same options.",
                        field <= 5 ? "q" : field == 10 ? nameof(parallel) : nameof(options));
        return problem!;
    }

    /// <summary>What the ring cannot do, and a shard the sharding cannot split.</summary>
    private static void CheckLocal(AttentionProblem problem, AttentionOptions options, ContextParallel parallel)
    {
        if (problem.SeqLenQ != problem.SeqLenK)
            throw new ArgumentException(
                $"Context parallelism shards one sequence: k's shard length ({problem.SeqLenK}) must equal q's ({problem.SeqLenQ}).", "k");
        if (problem.SeqLenQ % parallel.ChunksPerRank != 0)
            throw new ArgumentException(
                $"A {parallel.Sharding} shard holds {parallel.ChunksPerRank} equal chunks: its length ({problem.SeqLenQ}) must be a multiple of {parallel.ChunksPerRank}.", "q");
        if (options.WindowLeft >= 0 || options.WindowRight >= 0)
            throw new ArgumentException("Sliding windows are not supported with context parallelism.", nameof(options));
        if (options.AlibiSlopes is not null)
            throw new ArgumentException("ALiBi is not supported with context parallelism (its bias depends on global positions).", nameof(options));
        if (options.Dropout.Enabled)
            throw new ArgumentException("Dropout is not supported with context parallelism.", nameof(options));
    }

    private static long[] Describe(DType dtype, AttentionProblem? p, AttentionOptions? options, ContextParallel parallel)
    {
        var values = new long[Fields.Length + 1];
        if (p is null) return values; // values[0] = 0: this rank failed
        values[0] = 1;
        long[] fields =
        [
            (long)dtype, p.Batch, p.SeqLenQ, p.HeadsQ, p.HeadsKV, p.HeadDim, (long)p.Layout, p.Causal ? 1 : 0,
            BitConverter.SingleToInt32Bits(p.Scale), options!.Softcap is float cap ? BitConverter.SingleToInt32Bits(cap) : 0,
            (long)parallel.Sharding, (long)p.Fp32Math, p.Deterministic ? 1 : 0,
        ];
        fields.CopyTo(values, 1);
        return values;
    }

    private static string Show(int field, long value) => field switch
    {
        0 => ((DType)value).ToString(),
        6 => ((AttentionLayout)value).ToString(),
        8 or 9 => BitConverter.Int32BitsToSingle((int)value).ToString("R"),
        10 => ((SequenceSharding)value).ToString(),
        11 => ((Fp32Math)value).ToString(),
        _ => value.ToString(),
    };
}
