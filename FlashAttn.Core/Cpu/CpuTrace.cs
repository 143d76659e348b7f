using System.Diagnostics;

namespace FlashAttn.Cpu;

/// <summary>
/// Where a CPU-path forward's (and backward's) time goes, for <c>Bench cpu</c> (issue 12: the forward does not scale to
/// 16 threads at short lengths): the caller's phases; for every <see cref="CpuTeam"/> loop its wall time, its workers' time inside
/// units, how many workers took a unit and how long after the loop's start the helpers took their first; and a forward
/// tile's products and softmax on its worker (the products' rate against the core's FMA peak). Off unless
/// FLASHATTN_CPU_TRACE=1 (read once); then each probe is a timestamp and an interlocked add.
/// </summary>
internal static class CpuTrace
{
    /// <summary>True when FLASHATTN_CPU_TRACE=1.</summary>
    public static readonly bool Enabled = Environment.GetEnvironmentVariable("FLASHATTN_CPU_TRACE") == "1";

    /// <summary>The forward's phases on the calling thread, then the backward's: its packs (K, V, Q, dO, L, D), its key
    /// blocks, the dQ partials' sum.</summary>
    public enum Phase { Pack, Scratch, Blocks, Release, BackwardPack, BackwardBlocks, DqReduction }

    /// <summary>A forward tile's steps on its worker: S = Q_i K_jᵀ; the modifiers, the online softmax and dropout; O_i += P V_j.</summary>
    public enum TileStep { Scores, Softmax, Values }

    private static readonly long[] Phases = new long[7];
    private static readonly long[] TileSteps = new long[3];
    private static long _tiles;
    private static long _previousEnd, _gapTicks, _gaps, _calls, _loops, _loopTicks, _unitTicks, _workerSlots, _workersUsed, _firstHelperTicks, _lastHelperTicks, _helperLoops, _tailTicks;

    /// <summary>Adds the ticks since <paramref name="mark"/> to <paramref name="phase"/> (<see cref="Phase.Pack"/> also counts a
    /// call); returns now.</summary>
    public static long Mark(Phase phase, long mark)
    {
        long now = Stopwatch.GetTimestamp();
        if (phase == Phase.Pack) Interlocked.Increment(ref _calls);
        Interlocked.Add(ref Phases[(int)phase], now - mark);
        return now;
    }

    /// <summary>Adds the ticks since <paramref name="mark"/> to <paramref name="step"/> (<see cref="TileStep.Values"/> ends a tile);
    /// returns now.</summary>
    public static long Tile(TileStep step, long mark)
    {
        long now = Stopwatch.GetTimestamp();
        Interlocked.Add(ref TileSteps[(int)step], now - mark);
        if (step == TileStep.Values) Interlocked.Increment(ref _tiles);
        return now;
    }

    /// <summary>One loop: its wall ticks, the ticks its units took on all workers, its worker slots and the workers that ran a
    /// unit, the ticks from its start to the first and the last helper's first unit (−1: no helper ran one) and from its last
    /// unit's end to its return.</summary>
    public static void Loop(long wall, long units, int slots, int used, long firstHelper, long lastHelper, long tail)
    {
        long end = Stopwatch.GetTimestamp();
        if (_previousEnd != 0)
        {
            Interlocked.Increment(ref _gaps);
            Interlocked.Add(ref _gapTicks, end - wall - _previousEnd);
        }
        _previousEnd = end;
        Interlocked.Increment(ref _loops);
        Interlocked.Add(ref _loopTicks, wall);
        Interlocked.Add(ref _unitTicks, units);
        Interlocked.Add(ref _workerSlots, slots);
        Interlocked.Add(ref _workersUsed, used);
        Interlocked.Add(ref _tailTicks, tail);
        if (firstHelper < 0) return;
        Interlocked.Increment(ref _helperLoops);
        Interlocked.Add(ref _firstHelperTicks, firstHelper);
        Interlocked.Add(ref _lastHelperTicks, lastHelper);
    }

    /// <summary>Zeroes every total.</summary>
    public static void Reset()
    {
        Array.Clear(Phases);
        Array.Clear(TileSteps);
        _tiles = 0;
        _previousEnd = _gapTicks = _gaps = _calls = _loops = _loopTicks = _unitTicks = _workerSlots = _workersUsed = _firstHelperTicks = _lastHelperTicks = _helperLoops = _tailTicks = 0;
    }

    /// <summary>The totals since <see cref="Reset"/>, per call (ms, µs), on one line.</summary>
    public static string Summary()
    {
        if (_calls == 0) return "trace: no forward call";
        double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency / _calls;
        double Us(long ticks, long count) => count == 0 ? double.NaN : ticks * 1e6 / Stopwatch.Frequency / count;
        double busy = _loopTicks == 0 ? 0 : (double)_unitTicks / _loopTicks / Math.Max(1.0, (double)_workerSlots / _loops);
        return $"trace per call: pack {Ms(Phases[(int)Phase.Pack]):F3} ms, scratch {Ms(Phases[(int)Phase.Scratch]):F3}, " +
            $"blocks {Ms(Phases[(int)Phase.Blocks]):F3}, release {Ms(Phases[(int)Phase.Release]):F3}; " +
            (Phases[(int)Phase.BackwardBlocks] == 0 ? "" : $"backward: pack {Ms(Phases[(int)Phase.BackwardPack]):F3} ms, " +
                $"blocks {Ms(Phases[(int)Phase.BackwardBlocks]):F3}, dQ reduction {Ms(Phases[(int)Phase.DqReduction]):F3}; ") +
            $"{(double)_loops / _calls:F1} loops, " +
            $"wall {Ms(_loopTicks):F3} ms, units {Ms(_unitTicks):F3} ms over all workers (busy {100 * busy:F0}% of wall × workers), " +
            $"workers with a unit {(double)_workersUsed / Math.Max(1, _loops):F1} of {(double)_workerSlots / Math.Max(1, _loops):F1}, " +
            $"first/last helper's first unit +{Us(_firstHelperTicks, _helperLoops):F0}/+{Us(_lastHelperTicks, _helperLoops):F0} µs, " +
            $"tail after the last unit {Us(_tailTicks, _loops):F0} µs, gap between loops {Us(_gapTicks, _gaps):F0} µs; " +
            $"per forward tile (64 × 64, on its worker) S {Us(TileSteps[(int)TileStep.Scores], _tiles):F2} µs, softmax " +
            $"{Us(TileSteps[(int)TileStep.Softmax], _tiles):F2} µs, P·V {Us(TileSteps[(int)TileStep.Values], _tiles):F2} µs";
    }
}
