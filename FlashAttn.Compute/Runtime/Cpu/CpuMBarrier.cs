using System.Diagnostics;

namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// The CPU meaning of <see cref="MBarrier"/>. A barrier's 8 bytes hold its state, changed by compare-exchange (full fences,
/// so data written before an arrival is seen after the wait): pending arrivals of the current phase (bits 0–19), the
/// expected count (20–39), the phase's parity (40), and the transaction bytes still owed, signed (41–63). A phase
/// completes when both its pending arrivals and its bytes are zero: the parity flips, the arrivals start again at the
/// count.
/// </summary>
internal static class CpuMBarrier
{
    /// <summary>How long a thread may wait on a barrier that does not move before the launch fails.</summary>
    public static TimeSpan Patience { get; set; } = TimeSpan.FromSeconds(20);

    private const int CountBits = 20;
    private const long CountMask = (1L << CountBits) - 1;
    private const int ParityShift = 2 * CountBits, BytesShift = ParityShift + 1;

    [ThreadStatic] private static long t_waitingSince;

    public static void Init(ref ulong barrier, int count)
    {
        if (count < 1 || count > CountMask) throw new InvalidOperationException($"An mbarrier counts 1 to {CountMask} arrivals, not {count}.");
        Volatile.Write(ref barrier, (uint)count | (ulong)(uint)count << CountBits);
    }

    /// <summary>Adds <paramref name="bytes"/> to the phase's transaction bytes and arrives; returns the phase's parity as its token.</summary>
    public static ulong Arrive(ref ulong barrier, int bytes)
        => Update(ref barrier, state =>
        {
            long pending = state & CountMask;
            if (pending == 0) throw new InvalidOperationException("More arrivals on an mbarrier than its count in one phase.");
            return Settle(state - 1 + ((long)bytes << BytesShift));
        });

    public static void CompleteTransaction(ref ulong barrier, int bytes)
        => Update(ref barrier, state => Settle(state - ((long)bytes << BytesShift)));

    public static bool TryWaitParity(ref ulong barrier, int phaseParity)
    {
        long state = (long)Volatile.Read(ref barrier);
        if ((state >> ParityShift & 1) != (phaseParity & 1))
        {
            t_waitingSince = 0;
            return true;
        }
        long now = Stopwatch.GetTimestamp();
        if (t_waitingSince == 0) t_waitingSince = now;
        else if (Stopwatch.GetElapsedTime(t_waitingSince, now) > Patience)
        {
            t_waitingSince = 0;
            throw new InvalidOperationException($"An mbarrier wait on phase parity {phaseParity} saw no completion in {Patience.TotalSeconds} s "
                + $"({state & CountMask} arrivals and {state >> BytesShift} transaction bytes still pending): a missing arrival or copy.");
        }
        Thread.Yield();
        return false;
    }

    /// <summary>A state whose arrivals and bytes are both zero completes its phase: parity flipped, arrivals reset to the count.</summary>
    private static long Settle(long state)
    {
        bool complete = (state & CountMask) == 0 && state >> BytesShift == 0;
        return complete ? (state & ~CountMask ^ 1L << ParityShift) | (state >> CountBits & CountMask) : state;
    }

    private static ulong Update(ref ulong barrier, Func<long, long> change)
    {
        while (true)
        {
            long before = (long)Volatile.Read(ref barrier);
            if (Interlocked.CompareExchange(ref barrier, (ulong)change(before), (ulong)before) == (ulong)before)
                return (ulong)(before >> ParityShift & 1);
        }
    }
}
