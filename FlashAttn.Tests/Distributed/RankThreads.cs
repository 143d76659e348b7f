namespace FlashAttn.Tests.Distributed;

/// <summary>Runs one body per rank, each on its own thread (as the collectives require), and returns each rank's
/// result or exception.</summary>
internal static class RankThreads
{
    public static (TResult? Result, Exception? Error)[] Run<TResult>(int ranks, Func<int, TResult> body)
    {
        var outcomes = new (TResult?, Exception?)[ranks];
        var threads = Enumerable.Range(0, ranks).Select(rank => new Thread(() =>
        {
            try { outcomes[rank] = (body(rank), null); }
            catch (Exception e) { outcomes[rank] = (default, e); }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.That(t.Join(TimeSpan.FromMinutes(5)), "a rank did not finish within 5 minutes");
        return outcomes;
    }

    /// <summary>Every rank's result; fails on the first rank that threw.</summary>
    public static TResult[] RunAll<TResult>(int ranks, Func<int, TResult> body)
    {
        var outcomes = Run(ranks, body);
        foreach (var (_, error) in outcomes)
            if (error is not null) throw new AggregateException("a rank failed", error);
        return outcomes.Select(o => o.Result!).ToArray();
    }
}
