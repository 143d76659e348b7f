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
    private readonly List<CpuParker> _epochWaiters = [];
    private readonly List<(int Offset, int Bytes)> _sharedBlocks = [];
    private readonly int _spins;
    private long _epoch = -1;
    private int _blocked;      // threads parked or spinning in a barrier that has not completed
    private int _exited;       // threads whose body has returned
    private nint _shared;      // arena of MaxSharedBytes, allocated on first use
    private int _sharedUsed;

    public CpuGroupState(CpuLaunch launch)
    {
        _launch = launch;
        Size = (int)launch.Config.Group.Size;
        GroupBarrier = new CpuBarrierPoint(Size, "the group barrier");
        int warps = (Size + 31) / 32;
        Warps = new CpuBarrierPoint[warps];
        for (int w = 0; w < warps; w++)
            Warps[w] = new CpuBarrierPoint(Math.Min(32, Size - 32 * w), $"the warp barrier of warp {w}");
        // Spinning only pays when every thread can have a core; otherwise park almost at once.
        _spins = Size <= Environment.ProcessorCount ? 2000 : 4;
    }

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
        CpuParker[] waiters;
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
            _blocked = 0;
            _exited = 0;
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
            waiters = [.. _epochWaiters];
            _epochWaiters.Clear();
        }
        foreach (var waiter in waiters) waiter.Unpark();
    }

    /// <summary>Blocks until the state has been prepared for <paramref name="epoch"/>.</summary>
    public void WaitForEpoch(long epoch, CpuParker parker)
    {
        if (Volatile.Read(ref _epoch) == epoch) return;
        lock (_lock)
        {
            if (Volatile.Read(ref _epoch) == epoch) return;
            _epochWaiters.Add(parker);
        }
        while (Volatile.Read(ref _epoch) != epoch) parker.Park();
    }

    /// <summary>
    /// <paramref name="thread"/> arrives at <paramref name="point"/> with <paramref name="value"/> and waits for
    /// the other members. Returns the number of members whose value was non-zero.
    /// </summary>
    /// <exception cref="LaunchAbortedException">The launch failed (here or elsewhere).</exception>
    public int Arrive(CpuThreadContext thread, CpuBarrierPoint point, int value)
    {
        int generation, position;
        lock (_lock)
        {
            if (_launch.Failed) throw new LaunchAbortedException();
            if (point.ExitedThread >= 0)
            {
                Fail($"{Where}: thread {thread.Linear} reached {point.Description} after thread {point.ExitedThread} had returned; every member must reach every barrier.");
                throw new LaunchAbortedException();
            }
            generation = point.Generation;
            int parity = generation & 1;
            if (value != 0) point.Accumulator++;
            if (++point.Arrived == point.Expected)
            {
                point.Results[parity] = point.Accumulator;
                point.Accumulator = 0;
                point.Arrived = 0;
                point.WaiterCount[parity ^ 1] = 0;
                _blocked -= point.WaiterCount[parity];
                point.Generation = generation + 1;
                position = -1;
            }
            else
            {
                position = point.WaiterCount[parity]++;
                point.Waiters[parity][position] = thread.Parker;
                _blocked++;
                if (_blocked + _exited == Size)
                {
                    Fail(DeadlockMessage());
                    throw new LaunchAbortedException();
                }
            }
        }
        if (position >= 0)
        {
            int spins = _spins;
            while (point.Generation == generation)
            {
                if (_launch.Failed) throw new LaunchAbortedException();
                if (spins-- > 0) Thread.SpinWait(16);
                else thread.Parker.Park();
            }
        }
        WakeChildren(point, generation & 1, position);
        return point.Results[generation & 1];
    }

    // Wake-up tree: the releaser (node −1) wakes waiters 0 and 1, waiter i wakes 2i+2 and 2i+3, so the
    // wake-ups of a large group spread over the cores instead of queueing behind one thread.
    private static void WakeChildren(CpuBarrierPoint point, int parity, int node)
    {
        int count = point.WaiterCount[parity];
        int first = 2 * node + 2;
        if (first < count) point.Waiters[parity][first].Unpark();
        if (first + 1 < count) point.Waiters[parity][first + 1].Unpark();
    }

    /// <summary>Records that <paramref name="thread"/>'s body returned. True when it was the last thread of the group.</summary>
    public bool Exit(CpuThreadContext thread)
    {
        lock (_lock)
        {
            _exited++;
            if (!_launch.Failed)
            {
                var warp = Warps[thread.Warp];
                if (GroupBarrier.Arrived > 0)
                    Fail($"{Where}: thread {thread.Linear} returned while {GroupBarrier.Arrived} threads wait at a barrier; every thread must reach every barrier.");
                else if (warp.Arrived > 0)
                    Fail($"{Where}: thread {thread.Linear} returned while {warp.Arrived} threads of its warp wait at a warp barrier or shuffle.");
                else if (_blocked > 0 && _blocked + _exited == Size)
                    Fail(DeadlockMessage());
                if (GroupBarrier.ExitedThread < 0) GroupBarrier.ExitedThread = thread.Linear;
                if (warp.ExitedThread < 0) warp.ExitedThread = thread.Linear;
            }
            return _exited == Size;
        }
    }

    private string DeadlockMessage()
    {
        int atGroup = GroupBarrier.Arrived;
        return $"{Where}: the threads wait at barriers that can never complete ({atGroup} at the group barrier, "
            + $"{_blocked - atGroup} at warp barriers or shuffles, {_exited} returned); group and warp barriers are mixed up or skipped.";
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
    }
}
