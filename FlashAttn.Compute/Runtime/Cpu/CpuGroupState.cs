using System.Runtime.InteropServices;

namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// One group in flight on the CPU: its barriers (group and per warp), its shared memory and the
/// checks that turn barrier misuse into errors instead of hangs. Each launch slot keeps a small ring of
/// these, so threads that finish a group can start the next one without waiting for the slowest thread
/// (they only wait when they get a whole ring ahead).
/// </summary>
/// <remarks>
/// Barrier rules (deterministic, stricter than "undefined behaviour" on a GPU): every thread of the group
/// must reach every group barrier, and every lane of a warp every warp barrier and shuffle. A thread
/// that returns while others wait at a barrier it belongs to, a thread that reaches a barrier after a
/// member returned, or a state where every live thread waits at barriers that cannot complete
/// (e.g. half a warp at <c>Group.Barrier</c>, the other half in a shuffle) fails the launch with an
/// <see cref="InvalidOperationException"/>.
/// </remarks>
internal sealed unsafe class CpuGroupState : IDisposable
{
    private readonly CpuLaunch _launch;
    private readonly Lock _lock = new();
    private readonly List<(int Offset, int Bytes)> _sharedBlocks = [];
    private readonly int _spins;
    private readonly int* _words;     // futex words, one per cache line: [0] epoch, [1] group barrier, [2+w] warp w
    private long _epoch = -1;
    private int _stuck;        // exited threads + waiters not yet released (see Arrive)
    private int _exited;       // threads whose body has returned
    private int _departed;     // threads done with this state (the last of Exit's writes; see Exit)
    private nint _shared;      // arena of MaxSharedBytes, allocated on first use
    private int _sharedUsed;

    public CpuGroupState(CpuLaunch launch)
    {
        _launch = launch;
        Size = (int)launch.Config.Group.Size;
        int warps = (Size + 31) / 32;
        _words = (int*)NativeMemory.AlignedAlloc((nuint)(64 * (2 + warps)), 64);
        NativeMemory.Clear(_words, (nuint)(64 * (2 + warps)));
        *_words = -1;
        GroupBarrier = new CpuBarrierPoint(Size, "the group barrier", _words + 16);
        Warps = new CpuBarrierPoint[warps];
        for (int w = 0; w < warps; w++)
            Warps[w] = new CpuBarrierPoint(Math.Min(32, Size - 32 * w), $"the warp barrier of warp {w}", _words + 16 * (2 + w));
        _spins = ShouldSpin(launch.Slots, Size, Environment.ProcessorCount) ? 2000 : 0;
    }

    /// <summary>
    /// Spinning at a barrier only pays when every thread of every group running at once can have a core; otherwise
    /// a spinner steals the core of the thread it waits for (2-thread groups in 2 slots on 2 cores ran ~15× slower).
    /// </summary>
    internal static bool ShouldSpin(int slots, int groupSize, int processors) => (long)slots * groupSize <= processors;

    /// <summary>Threads per group.</summary>
    public int Size { get; }

    /// <summary>The barrier of the whole group.</summary>
    public CpuBarrierPoint GroupBarrier { get; }

    /// <summary>One barrier per warp (the last may be partial).</summary>
    public CpuBarrierPoint[] Warps { get; }

    /// <summary>Linear index of the group in the grid, or −1 when the slot has no more groups.</summary>
    public long GroupLinear { get; private set; } = -1;

    /// <summary>Index of the group in the grid.</summary>
    public Dim3 GroupIndex { get; private set; }

    /// <summary>Start of the dynamic shared memory (the first bytes of the arena).</summary>
    public nint DynamicShared { get; private set; }

    private string Where => $"Kernel {_launch.Name}, group {GroupIndex}";

    /// <summary>Makes the state hold <paramref name="group"/> (−1: stop) for <paramref name="epoch"/> and releases the threads waiting for it.</summary>
    public void Prepare(long epoch, long group)
    {
        lock (_lock)
        {
            GroupLinear = group;
            if (group >= 0)
            {
                var grid = _launch.Config.Grid;
                GroupIndex = new Dim3((int)(group % grid.X), (int)(group / grid.X % grid.Y), (int)(group / ((long)grid.X * grid.Y)));
            }
            GroupBarrier.Reset();
            foreach (var warp in Warps) warp.Reset();
            _stuck = 0;
            _exited = 0;
            _departed = 0;
            _sharedBlocks.Clear();
            int dynamicBytes = _launch.Config.DynamicSharedBytes;
            _sharedUsed = (dynamicBytes + 15) & ~15;
            if (group >= 0 && dynamicBytes > 0)
            {
                EnsureArena();
                NativeMemory.Fill((void*)_shared, (nuint)dynamicBytes, 0xFF);
            }
            DynamicShared = _shared;
            Volatile.Write(ref _epoch, epoch);
            Volatile.Write(ref *_words, (int)epoch);
        }
        CpuFutex.WakeAll(_words);
    }

    /// <summary>True when the state holds <paramref name="epoch"/> or a later one.</summary>
    public bool Reached(long epoch) => Volatile.Read(ref _epoch) >= epoch;

    /// <summary>Blocks until the state has been prepared for <paramref name="epoch"/> (or a later one).</summary>
    public void WaitForEpoch(long epoch)
    {
        while (true)
        {
            int word = Volatile.Read(ref *_words);
            if (Volatile.Read(ref _epoch) >= epoch) return;
            CpuFutex.Wait(_words, word);
        }
    }

    /// <summary>Wakes every thread waiting at a barrier of this group (the launch failed).</summary>
    public void Abort()
    {
        GroupBarrier.Abort();
        foreach (var warp in Warps) warp.Abort();
    }

    /// <summary>
    /// <paramref name="thread"/> arrives at <paramref name="point"/> with <paramref name="value"/> and waits for
    /// the other members. Returns the number of members whose value was non-zero.
    /// </summary>
    /// <remarks>
    /// Lock-free. <c>_stuck</c> counts exited threads plus waiters not yet released: a waiter adds itself
    /// after arriving, and the completing thread subtracts all its waiters before it bumps the generation,
    /// so the count can lag but never counts a running thread. It reaches the group size only when no
    /// thread can make progress: a deadlock.
    /// </remarks>
    /// <exception cref="LaunchAbortedException">The launch failed (here or elsewhere).</exception>
    public int Arrive(CpuThreadContext thread, CpuBarrierPoint point, int value)
    {
        if (_launch.Failed) throw new LaunchAbortedException();
        int generation = point.Generation; // cannot advance before this thread arrives
        if (value != 0) Interlocked.Increment(ref point.Accumulator);
        int arrived = Interlocked.Increment(ref point.Arrived);
        if ((arrived & CpuBarrierPoint.ReturnedBit) != 0)
        {
            Fail($"{Where}: thread {thread.Linear} reached {point.Description} after thread {Volatile.Read(ref point.ExitedThread)} had returned; every member must reach every barrier.");
            throw new LaunchAbortedException();
        }
        if (arrived == point.Expected)
        {
            point.Results[generation & 1] = Interlocked.Exchange(ref point.Accumulator, 0);
            Volatile.Write(ref point.Arrived, 0);
            Interlocked.Add(ref _stuck, -(point.Expected - 1));
            point.Release();
            return point.Results[generation & 1];
        }
        if (Interlocked.Increment(ref _stuck) == Size)
        {
            Fail(DeadlockMessage());
            throw new LaunchAbortedException();
        }
        int spins = _spins;
        while (true)
        {
            int word = Volatile.Read(ref *point.Word);
            if ((word & CpuBarrierPoint.GenerationMask) != generation) break;
            if (_launch.Failed) throw new LaunchAbortedException();
            if (spins-- > 0) Thread.SpinWait(16);
            else CpuFutex.Wait(point.Word, word);
        }
        return point.Results[generation & 1];
    }

    /// <summary>Records that <paramref name="thread"/>'s body returned. True when it was the last thread of the group.</summary>
    public bool Exit(CpuThreadContext thread)
    {
        var warp = Warps[thread.Warp];
        int atGroup = GroupBarrier.MarkReturned(thread.Linear), atWarp = warp.MarkReturned(thread.Linear);
        Interlocked.Increment(ref _exited);
        int stuck = Interlocked.Increment(ref _stuck);
        if (!_launch.Failed)
        {
            if (atGroup > 0)
                Fail($"{Where}: thread {thread.Linear} returned while {atGroup} threads wait at a barrier; every thread must reach every barrier.");
            else if (atWarp > 0)
                Fail($"{Where}: thread {thread.Linear} returned while {atWarp} threads of its warp wait at a warp barrier or shuffle.");
            // Every thread raises _exited before _stuck, so once _stuck reached Size a fresh read of _exited
            // counts every exited thread; the local `exited` may be stale (another thread exited meanwhile).
            else if (stuck == Size && Volatile.Read(ref _exited) < Size)
                Fail(DeadlockMessage());
        }
        // Only the last thread to finish ALL of the writes above may recycle the state for the next group:
        // deciding on _exited alone let a slower thread's _stuck/Arrived writes land in the next group.
        return Interlocked.Increment(ref _departed) == Size;
    }

    private string DeadlockMessage()
    {
        int atGroup = Volatile.Read(ref GroupBarrier.Arrived) & ~CpuBarrierPoint.ReturnedBit, exited = Volatile.Read(ref _exited);
        return $"{Where}: the threads wait at barriers that can never complete ({atGroup} at the group barrier, "
            + $"{Size - exited - atGroup} at warp barriers or shuffles, {exited} returned); group and warp barriers are mixed up or skipped.";
    }

    private void Fail(string message) => _launch.Fail(new InvalidOperationException(message));

    /// <summary>
    /// The <paramref name="thread"/>'s next static shared allocation: the k-th call of every thread of the
    /// group returns the same block. New blocks are filled with 0xFF bytes (NaN for floats, −1 for
    /// integers) so reads before writes show up.
    /// </summary>
    public nint AllocateShared(CpuThreadContext thread, int bytes, int alignment)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (alignment < 1) alignment = 1;
        if (alignment > 256 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "Shared memory alignment must be a power of two up to 256.");
        int k = thread.SharedCalls++;
        lock (_lock)
        {
            if (k < _sharedBlocks.Count)
            {
                var (offset, size) = _sharedBlocks[k];
                if (size != bytes)
                    throw new InvalidOperationException($"{Where}: shared allocation #{k} is {bytes} bytes in thread {thread.Linear} but {size} bytes in another thread; every thread must make the same allocations in the same order.");
                return _shared + offset;
            }
            int start = (_sharedUsed + alignment - 1) & -alignment;
            if ((long)start + bytes > CpuGroupExecutor.MaxSharedBytes)
                throw new InvalidOperationException($"{Where}: shared memory of {(long)start + bytes} bytes (dynamic {_launch.Config.DynamicSharedBytes} included) exceeds the {CpuGroupExecutor.MaxSharedBytes}-byte limit per group.");
            EnsureArena();
            NativeMemory.Fill((void*)(_shared + start), (nuint)bytes, 0xFF);
            _sharedUsed = start + bytes;
            _sharedBlocks.Add((start, bytes));
            return _shared + start;
        }
    }

    private void EnsureArena()
    {
        if (_shared == 0)
        {
            _shared = (nint)NativeMemory.AlignedAlloc(CpuGroupExecutor.MaxSharedBytes, 256);
            DynamicShared = _shared;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_shared != 0) NativeMemory.AlignedFree((void*)_shared);
        _shared = 0;
        NativeMemory.AlignedFree(_words);
    }
}
