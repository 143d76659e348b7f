namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// One thread's <c>cp.async</c> copies in flight (<see cref="AsyncCopy"/>) on the CPU. A copy reads its 16 source bytes
/// when issued, as the hardware may, but lands them in shared memory only when a wait retires its group
/// (<see cref="AsyncCopy.WaitGroup"/> the groups older than the newest N, <see cref="AsyncCopy.WaitAll"/> every one). So a
/// tile read before its wait, or by another thread without the writer's wait before the barrier, holds stale bytes on the
/// CPU as it may on a GPU, and a pipeline's ring bug fails in CI instead of passing by the CPU's timing.
/// </summary>
internal sealed class CpuAsyncCopies
{
    private readonly record struct Chunk(nint Destination, Float4 Bytes);

    // issued copies in order; the committed groups end at _groupEnds[i] (exclusive); those below _landed are in shared memory
    private readonly List<Chunk> _chunks = [];
    private readonly List<int> _groupEnds = [];
    private int _landed, _groupsLanded;

    /// <summary>Issues a copy of <paramref name="bytes"/> (read now) to <paramref name="destination"/>.</summary>
    public void Issue(nint destination, Float4 bytes) => _chunks.Add(new Chunk(destination, bytes));

    /// <summary>Closes the group of the copies issued since the last commit (an empty group when none, as commit_group).</summary>
    public void Commit() => _groupEnds.Add(_chunks.Count);

    /// <summary>Lands every committed group but the newest <paramref name="pendingGroups"/> (wait_group N).</summary>
    public unsafe void Wait(int pendingGroups)
    {
        int groups = _groupEnds.Count - pendingGroups;
        if (groups <= _groupsLanded) return;
        int end = _groupEnds[groups - 1];
        for (int c = _landed; c < end; c++) *(Float4*)_chunks[c].Destination = _chunks[c].Bytes;
        _landed = end;
        _groupsLanded = groups;
        if (_landed == _chunks.Count) Reset(); // nothing in flight or open: start the lists over
    }

    /// <summary>Commits the open copies and lands everything (wait_all: commit_group, then wait_group 0).</summary>
    public void WaitAll()
    {
        Commit();
        Wait(0);
    }

    /// <summary>Forgets every copy (a new group starts on this thread; copies a kernel never waited for land nowhere).</summary>
    public void Reset()
    {
        _chunks.Clear();
        _groupEnds.Clear();
        _landed = _groupsLanded = 0;
    }
}
