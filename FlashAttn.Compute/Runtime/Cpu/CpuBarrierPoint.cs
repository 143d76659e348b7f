namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// Bookkeeping of one barrier among a fixed set of threads (the whole group, or one warp): arrivals of
/// the current generation, the parked waiters of the last two generations (so a wake-up tree of one
/// generation is never overwritten by the next), and the reduction result of <c>BarrierReduce</c>.
/// Mutated only under the owning <see cref="CpuGroupState"/>'s lock; <see cref="Generation"/> is read
/// without it.
/// </summary>
internal sealed class CpuBarrierPoint
{
    public CpuBarrierPoint(int expected, string description)
    {
        Expected = expected;
        Description = description;
        Waiters = [new CpuParker[expected], new CpuParker[expected]];
        Exchange = [new int[32], new int[32]];
    }

    /// <summary>Threads that must arrive.</summary>
    public int Expected { get; }

    /// <summary>"the group barrier", "the warp barrier of warp 3", for messages.</summary>
    public string Description { get; }

    /// <summary>Arrivals of the current generation.</summary>
    public int Arrived;

    /// <summary>Completed generations; a waiter leaves when it changes.</summary>
    public volatile int Generation;

    /// <summary>Parked waiters per generation parity.</summary>
    public readonly CpuParker[][] Waiters;

    /// <summary>Number of entries in <see cref="Waiters"/> per generation parity.</summary>
    public readonly int[] WaiterCount = new int[2];

    /// <summary>Running reduction of the current generation (count, and, or).</summary>
    public int Accumulator;

    /// <summary>Whether the current generation has seen a value that makes And false.</summary>
    public bool AnyZero;

    /// <summary>Reduction result per generation parity.</summary>
    public readonly int[] Results = new int[2];

    /// <summary>Warp shuffles: each lane's payload, per generation parity.</summary>
    public readonly int[][] Exchange;

    /// <summary>A member thread that has returned (−1: none); a later arrival is an error.</summary>
    public int ExitedThread = -1;

    /// <summary>Back to the state of a fresh group.</summary>
    public void Reset()
    {
        Arrived = 0;
        Generation = 0;
        WaiterCount[0] = WaiterCount[1] = 0;
        Accumulator = 0;
        AnyZero = false;
        ExitedThread = -1;
    }
}
