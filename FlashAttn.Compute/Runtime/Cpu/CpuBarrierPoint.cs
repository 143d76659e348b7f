namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// Bookkeeping of one barrier among a fixed set of threads (the whole group, or one warp). The
/// generation lives in a native futex word that waiters sleep on; the completing thread bumps it and
/// wakes all of them with one call. <see cref="AbortBit"/> in the word releases every waiter when the
/// launch fails. Everything but the word is mutated only under the owning <see cref="CpuGroupState"/>'s lock.
/// </summary>
internal sealed unsafe class CpuBarrierPoint(int expected, string description, int* word)
{
    /// <summary>Set in the word when the launch fails, so sleeping waiters wake and unwind.</summary>
    public const int AbortBit = 1 << 30;

    /// <summary>Bits of the word holding the generation.</summary>
    public const int GenerationMask = AbortBit - 1;

    /// <summary>Threads that must arrive.</summary>
    public int Expected { get; } = expected;

    /// <summary>"the group barrier", "the warp barrier of warp 3", for messages.</summary>
    public string Description { get; } = description;

    /// <summary>The futex word: generation (completed barriers) plus <see cref="AbortBit"/>.</summary>
    public int* Word { get; } = word;

    /// <summary>Completed generations.</summary>
    public int Generation => Volatile.Read(ref *Word) & GenerationMask;

    /// <summary>Arrivals of the current generation.</summary>
    public int Arrived;

    /// <summary>Non-zero values seen in the current generation (BarrierReduce).</summary>
    public int Accumulator;

    /// <summary>Reduction result per generation parity.</summary>
    public readonly int[] Results = new int[2];

    /// <summary>Warp shuffles: each lane's payload, per generation parity.</summary>
    public readonly int[][] Exchange = [new int[32], new int[32]];

    /// <summary>A member thread that has returned (−1: none); a later arrival is an error.</summary>
    public int ExitedThread = -1;

    /// <summary>Completes the current generation and wakes its waiters.</summary>
    public void Release()
    {
        Interlocked.Increment(ref *Word);
        CpuFutex.WakeAll(Word);
    }

    /// <summary>Sets <see cref="AbortBit"/> and wakes every waiter.</summary>
    public void Abort()
    {
        Interlocked.Or(ref *Word, AbortBit);
        CpuFutex.WakeAll(Word);
    }

    /// <summary>Back to the state of a fresh group.</summary>
    public void Reset()
    {
        Volatile.Write(ref *Word, 0);
        Arrived = 0;
        Accumulator = 0;
        ExitedThread = -1;
    }
}
