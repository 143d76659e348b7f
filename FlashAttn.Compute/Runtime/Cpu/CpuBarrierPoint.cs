namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// Bookkeeping of one barrier among a fixed set of threads (the whole group, or one warp). The
/// generation lives in a native futex word that waiters sleep on; the completing thread bumps it and
/// wakes all of them with one call. <see cref="AbortBit"/> in the word releases every waiter when the
/// launch fails.
/// </summary>
internal sealed unsafe class CpuBarrierPoint(int expected, string description, int* word)
{
    /// <summary>Set in the word when the launch fails, so sleeping waiters wake and unwind.</summary>
    public const int AbortBit = 1 << 30;

    /// <summary>Bits of the word holding the generation.</summary>
    public const int GenerationMask = AbortBit - 1;

    /// <summary>
    /// Set in <see cref="Arrived"/> when a member returns. Arrivals and returns then meet in one atomic
    /// word, so each arrival learns exactly whether a return came first; a separate flag read after the
    /// arrival could see a return that only followed the barrier this arrival completed.
    /// </summary>
    public const int ReturnedBit = 1 << 16;

    /// <summary>Threads that must arrive.</summary>
    public int Expected { get; } = expected;

    /// <summary>"the group barrier", "the warp barrier of warp 3", for messages.</summary>
    public string Description { get; } = description;

    /// <summary>The futex word: generation (completed barriers) plus <see cref="AbortBit"/>.</summary>
    public int* Word { get; } = word;

    /// <summary>Completed generations.</summary>
    public int Generation => Volatile.Read(ref *Word) & GenerationMask;

    /// <summary>Arrivals of the current generation, plus <see cref="ReturnedBit"/> once a member returned (it stays: that generation can never complete).</summary>
    public int Arrived;

    /// <summary>Non-zero values seen in the current generation (BarrierReduce).</summary>
    public int Accumulator;

    /// <summary>Reduction result per generation parity.</summary>
    public readonly int[] Results = new int[2];

    /// <summary>Warp shuffles: each lane's payload, per generation parity.</summary>
    public readonly int[][] Exchange = [new int[32], new int[32]];

    /// <summary>Most 32-bit words one lane contributes to a <see cref="CpuContext.WarpExchange"/>.</summary>
    public const int WideExchangeWords = 16;

    /// <summary>Warp-collective exchanges of several words per lane (tensor-core fragments, ldmatrix addresses), per
    /// generation parity: lane l's words at [l · <see cref="WideExchangeWords"/> …].</summary>
    public readonly int[][] WideExchange = [new int[32 * WideExchangeWords], new int[32 * WideExchangeWords]];

    /// <summary>The first member thread that returned (−1: none), for messages.</summary>
    public int ExitedThread = -1;

    /// <summary>Records that member <paramref name="thread"/> returned. Returns how many members were waiting here then.</summary>
    public int MarkReturned(int thread)
    {
        Interlocked.CompareExchange(ref ExitedThread, thread, -1);
        return Interlocked.Or(ref Arrived, ReturnedBit) & ~ReturnedBit;
    }

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
