using System.Diagnostics;

namespace FlashAttn.Cpu;

/// <summary>
/// The CPU path's parallel loops: a fork-join over units [0, count) on the calling thread and up to
/// MaxDegreeOfParallelism − 1 persistent helper threads shared by the process, units handed out one at a time from a
/// shared counter. Why not Parallel.For: it starts its workers as a chain (each new replica queues the next, each a
/// thread-pool wake-up), so at 16 threads a call of ~1 ms spent a good part of it starting workers, twice per call
/// (packing, then the blocks). Here the caller wakes every helper itself, and a helper that finished a loop spins a
/// short while (<see cref="SpinMicroseconds"/>) before it sleeps, so back-to-back loops and calls find it awake (as
/// OpenMP's workers, which PyTorch's CPU kernels run on). Which thread runs a unit is never visible in the results:
/// bodies index their scratch by the worker number they are given.
/// </summary>
internal sealed class CpuTeam
{
    /// <summary>How long an idle helper watches for the next loop before it sleeps: longer than the gap between two loops of
    /// a call or two back-to-back calls, short enough that an idle process gives its cores back at once.</summary>
    private const int SpinMicroseconds = 200;

    private static readonly CpuTeam Shared = new();

    private readonly List<Helper> _helpers = [];
    private readonly ManualResetEventSlim _done = new(false);
    private readonly long _spinTicks = Stopwatch.Frequency * SpinMicroseconds / 1_000_000;

    /// <summary>0 idle, 1 running a loop (loops do not nest and concurrent callers do not share the helpers).</summary>
    private int _busy;

    /// <summary>The loop's generation (high 32 bits) and worker count (low 32 bits), published in one write.</summary>
    private long _state;

    /// <summary>The helpers taking part in the loop: its generation (high 32 bits), <see cref="Closed"/> once the caller has
    /// run out of units, and the count of helpers in it (low 31 bits). A helper joins only an open loop of the generation it
    /// was woken for, so the caller waits for the helpers that are working and never for one still waking up.</summary>
    private long _members;

    private const long Closed = 1L << 31, Count = Closed - 1;

    /// <summary>For <see cref="CpuTrace"/> only: the loop's start, its units' ticks, the last unit's end, each worker's first
    /// unit's start (0: none yet).</summary>
    private long _traceStart, _traceUnits, _traceLastEnd;
    private long[] _traceFirst = [];

    private Action<int, int> _body = (_, _) => { };
    private int _count, _next;
    private bool _spin;
    private List<Exception>? _errors;

    /// <summary>
    /// Runs <paramref name="body"/>(unit, worker) for every unit in [0, <paramref name="count"/>) on at most
    /// MaxDegreeOfParallelism workers, worker ∈ [0, workers); returns when all are done. Exceptions are rethrown in an
    /// <see cref="AggregateException"/>, as Parallel.For does.
    /// </summary>
    public static void For(int count, ParallelOptions parallel, Action<int, int> body)
    {
        int workers = Workers(count, parallel);
        if (workers <= 1)
        {
            for (int unit = 0; unit < count; unit++) body(unit, 0);
            return;
        }
        if (Interlocked.CompareExchange(ref Shared._busy, 1, 0) != 0)
        {
            // the helpers are another caller's (or this loop is inside one): one Parallel.For iteration per worker number
            int next = -1;
            Parallel.For(0, workers, parallel, worker =>
            {
                for (int unit; (unit = Interlocked.Increment(ref next)) < count;) body(unit, worker);
            });
            return;
        }
        try
        {
            Shared.Run(count, workers, body);
        }
        finally
        {
            Volatile.Write(ref Shared._busy, 0);
        }
    }

    /// <summary>The workers a loop of <paramref name="count"/> units runs on: worker numbers are below this.</summary>
    public static int Workers(int count, ParallelOptions parallel)
        => Math.Max(1, Math.Min(count, parallel.MaxDegreeOfParallelism > 0 ? parallel.MaxDegreeOfParallelism : Environment.ProcessorCount));

    /// <summary><see cref="For(int, ParallelOptions, Action{int, int})"/> for bodies that need no worker number.</summary>
    public static void For(int count, ParallelOptions parallel, Action<int> body) => For(count, parallel, (unit, _) => body(unit));

    private void Run(int count, int workers, Action<int, int> body)
    {
        while (_helpers.Count < workers - 1) _helpers.Add(new Helper(this, _helpers.Count + 1));
        _body = body;
        _count = count;
        _next = -1;
        _errors = null;
        // spinning helpers only help when each has a core; oversubscribed, they would take the cores of working ones
        _spin = workers <= Environment.ProcessorCount;
        if (CpuTrace.Enabled) StartTrace(workers);
        long generation = (Volatile.Read(ref _state) >> 32) + 1;
        Volatile.Write(ref _members, generation << 32);
        Interlocked.Exchange(ref _state, generation << 32 | (uint)workers);
        for (int i = 0; i < workers - 1; i++) _helpers[i].Wake();
        Work(0);
        // no unit is left: close the loop to helpers not yet in it, then wait for those in it — spinning (never yielding: on
        // a busy machine a yield can cost a whole time slice), then asleep until the last one leaves
        if ((Interlocked.Or(ref _members, Closed) & Count) != 0)
        {
            long deadline = Stopwatch.GetTimestamp() + _spinTicks;
            while ((Volatile.Read(ref _members) & Count) != 0 && _spin && Stopwatch.GetTimestamp() < deadline) Thread.SpinWait(16);
            // a Set may be stale (a helper that left the last loop after its caller saw it leave): reset and look again
            while ((Volatile.Read(ref _members) & Count) != 0)
            {
                _done.Wait();
                _done.Reset();
            }
        }
        if (CpuTrace.Enabled) EndTrace(workers);
        if (_errors is { } errors) throw new AggregateException(errors);
    }

    private void StartTrace(int workers)
    {
        if (_traceFirst.Length < workers) _traceFirst = new long[workers];
        Array.Clear(_traceFirst);
        _traceUnits = _traceLastEnd = 0;
        _traceStart = Stopwatch.GetTimestamp();
    }

    private void EndTrace(int workers)
    {
        long end = Stopwatch.GetTimestamp(), first = long.MaxValue, last = -1;
        int used = _traceFirst[0] != 0 ? 1 : 0;
        for (int worker = 1; worker < workers; worker++)
        {
            if (_traceFirst[worker] == 0) continue;
            used++;
            first = Math.Min(first, _traceFirst[worker] - _traceStart);
            last = Math.Max(last, _traceFirst[worker] - _traceStart);
        }
        CpuTrace.Loop(end - _traceStart, _traceUnits, workers, used, last < 0 ? -1 : first, last, end - _traceLastEnd);
    }

    /// <summary>One unit under <see cref="CpuTrace"/>: its ticks, the worker's first start, the loop's last end.</summary>
    private void TracedUnit(int unit, int worker)
    {
        long start = Stopwatch.GetTimestamp();
        if (_traceFirst[worker] == 0) _traceFirst[worker] = start;
        _body(unit, worker);
        long end = Stopwatch.GetTimestamp(), seen;
        Interlocked.Add(ref _traceUnits, end - start);
        while ((seen = Volatile.Read(ref _traceLastEnd)) < end && Interlocked.CompareExchange(ref _traceLastEnd, end, seen) != seen) { }
    }

    /// <summary>Enters the helper into loop <paramref name="generation"/> if that loop is still open.</summary>
    private bool Join(long generation)
    {
        long members;
        while ((members = Volatile.Read(ref _members)) >> 32 == generation && (members & Closed) == 0)
            if (Interlocked.CompareExchange(ref _members, members + 1, members) == members) return true;
        return false;
    }

    /// <summary>Takes units until none is left.</summary>
    private void Work(int worker)
    {
        try
        {
            for (int unit; (unit = Interlocked.Increment(ref _next)) < _count;)
                if (CpuTrace.Enabled) TracedUnit(unit, worker);
                else _body(unit, worker);
        }
        catch (Exception error)
        {
            Volatile.Write(ref _next, _count); // the others stop at their next unit
            lock (_helpers) (_errors ??= []).Add(error);
        }
    }

    /// <summary>One helper thread (worker number <c>index</c> ≥ 1): spins, then sleeps, between loops.</summary>
    private sealed class Helper
    {
        private readonly CpuTeam _team;
        private readonly int _index;
        private readonly SemaphoreSlim _signal = new(0);

        /// <summary>1 while the helper sleeps (or is about to) on <see cref="_signal"/>: whoever resets it to 0 owns the wake-up.</summary>
        private int _sleeping;

        public Helper(CpuTeam team, int index)
        {
            _team = team;
            _index = index;
            new Thread(Loop) { IsBackground = true, Name = $"FlashAttn CPU worker {index}" }.Start();
        }

        /// <summary>Called by the caller after publishing a loop: releases the helper if it sleeps.</summary>
        public void Wake()
        {
            if (Volatile.Read(ref _sleeping) == 1 && Interlocked.CompareExchange(ref _sleeping, 0, 1) == 1) _signal.Release();
        }

        private void Loop()
        {
            long seen = 0;
            while (true)
            {
                long state = WaitForLoop(seen);
                seen = state >> 32;
                if (_index >= (int)state || !_team.Join(seen)) continue; // this loop has fewer workers, or is over
                _team.Work(_index);
                if ((Interlocked.Decrement(ref _team._members) & (Closed | Count)) == Closed) _team._done.Set();
            }
        }

        /// <summary>The state of the next loop after generation <paramref name="seen"/>: spinning a while, then asleep.</summary>
        private long WaitForLoop(long seen)
        {
            long state, deadline = Stopwatch.GetTimestamp() + _team._spinTicks;
            while ((state = Volatile.Read(ref _team._state)) >> 32 == seen && _team._spin && Stopwatch.GetTimestamp() < deadline)
                Thread.SpinWait(16);
            if (state >> 32 != seen) return state;
            while (true)
            {
                Interlocked.Exchange(ref _sleeping, 1);
                if ((state = Volatile.Read(ref _team._state)) >> 32 != seen)
                {
                    // published meanwhile: if the caller has already reset the flag, its Release is on the way; take it
                    if (Interlocked.CompareExchange(ref _sleeping, 0, 1) == 0) _signal.Wait();
                    return state;
                }
                _signal.Wait();
                if ((state = Volatile.Read(ref _team._state)) >> 32 != seen) return state;
            }
        }
    }
}
