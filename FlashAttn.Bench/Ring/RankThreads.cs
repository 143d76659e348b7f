using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Bench.Ring;

/// <summary>
/// Runs one body per rank, each on a thread of its own (the ring's collectives need every rank's call at once). When a
/// rank fails, the ranks waiting at the <see cref="RankBarrier"/> stop at once and the others get <see cref="Grace"/> to
/// finish (with the in-process transport they fail at once; over NCCL a rank whose peer gave up may wait on the GPU
/// forever); then <see cref="RankFailure"/> names each rank's error and the ranks still running. The threads are
/// background threads, so a hung rank does not keep the process alive.
/// </summary>
internal static class RankThreads
{
    /// <summary>How long the other ranks get to finish after one failed.</summary>
    public static TimeSpan Grace { get; } = TimeSpan.FromMinutes(2);

    /// <summary>Every rank's result, indexed by rank; <paramref name="body"/> gets its rank and the barrier all ranks share.</summary>
    /// <exception cref="RankFailure">A rank threw, or did not finish within <see cref="Grace"/> of another's failure.</exception>
    public static TResult[] Run<TResult>(int ranks, Func<int, RankBarrier, TResult> body)
    {
        var barrier = new RankBarrier(ranks);
        var results = new TResult[ranks];
        var errors = new Exception?[ranks];
        var threads = new Thread[ranks];
        for (int r = 0; r < ranks; r++)
        {
            int rank = r;
            threads[rank] = new Thread(() =>
            {
                try
                {
                    results[rank] = body(rank, barrier);
                }
                catch (Exception e)
                {
                    errors[rank] = e;
                    barrier.Cancel();
                }
            }) { IsBackground = true, Name = $"ring rank {rank}" };
        }
        foreach (var thread in threads) thread.Start();

        DateTime? deadline = null;
        while (Array.Exists(threads, t => t.IsAlive))
        {
            if (deadline is null && Array.Exists(errors, e => e is not null)) deadline = DateTime.UtcNow + Grace;
            if (deadline is { } d && DateTime.UtcNow > d) break;
            Array.Find(threads, t => t.IsAlive)?.Join(TimeSpan.FromMilliseconds(50));
        }
        int[] hung = [.. Enumerable.Range(0, ranks).Where(r => threads[r].IsAlive)];
        if (hung.Length == 0) barrier.Dispose(); // a hung rank may still reach it
        if (hung.Length > 0 || Array.Exists(errors, e => e is not null)) throw new RankFailure(errors, hung);
        return results;
    }
}

/// <summary>
/// A barrier of the ranks of one <see cref="RankThreads.Run"/>: every rank waits until all arrive, or stops with
/// <see cref="OperationCanceledException"/> once a rank has failed (so that no rank enters a collective alone).
/// </summary>
internal sealed class RankBarrier(int ranks) : IDisposable
{
    private readonly Barrier _barrier = new(ranks);
    private readonly CancellationTokenSource _failed = new();

    /// <summary>Waits for every rank.</summary>
    /// <exception cref="OperationCanceledException">Another rank failed.</exception>
    public void Wait() => _barrier.SignalAndWait(_failed.Token);

    /// <summary>Releases the ranks waiting, and those to come, with <see cref="OperationCanceledException"/>.</summary>
    public void Cancel() => _failed.Cancel();

    /// <inheritdoc/>
    public void Dispose()
    {
        _barrier.Dispose();
        _failed.Dispose();
    }
}

/// <summary>Ranks of a <see cref="RankThreads.Run"/> failed or hung.</summary>
internal sealed class RankFailure(IReadOnlyList<Exception?> errors, IReadOnlyList<int> hung) : Exception(Describe(errors, hung))
{
    /// <summary>Each rank's exception, or null.</summary>
    public IReadOnlyList<Exception?> Errors { get; } = errors;

    /// <summary>Ranks still running <see cref="RankThreads.Grace"/> after the first failure: their device and group are
    /// stuck (NCCL waits on the GPU for a peer that gave up) and must not be touched again.</summary>
    public IReadOnlyList<int> Hung { get; } = hung;

    /// <summary>True when some rank ran out of device memory (the others' errors follow from it).</summary>
    public bool OutOfMemory => Errors.Any(e => e is not null && IsOutOfMemory(e));

    /// <summary>An allocation that failed (<see cref="OutOfMemoryException"/>) or a CUDA call that returned out of memory,
    /// here or in an inner exception.</summary>
    public static bool IsOutOfMemory(Exception e) => e switch
    {
        OutOfMemoryException => true,
        CudaException { Result: CudaResult.OutOfMemory } => true,
        AggregateException a => a.InnerExceptions.Any(IsOutOfMemory),
        _ => e.InnerException is { } inner && IsOutOfMemory(inner),
    };

    private static string Describe(IReadOnlyList<Exception?> errors, IReadOnlyList<int> hung)
    {
        var parts = new List<string>();
        for (int r = 0; r < errors.Count; r++)
            if (errors[r] is { } e)
                parts.Add(e is OperationCanceledException ? $"rank {r}: stopped (another rank failed)" : $"rank {r}: {e.GetType().Name}: {e.Message}");
        if (hung.Count > 0)
            parts.Add($"rank{(hung.Count > 1 ? "s" : "")} {string.Join(", ", hung)} still running {RankThreads.Grace.TotalSeconds:F0} s after " +
                "that failure (a peer that gave up leaves NCCL waiting on the GPU)");
        return string.Join("; ", parts);
    }
}
