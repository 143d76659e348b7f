namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// One thread's bulk copies in flight (<see cref="BulkCopy"/>) on the CPU. The hardware reads a copy's shared-memory source
/// at some moment between its issue and the wait that retires it; here a copy snapshots its source when issued and, when
/// retired, checks that the source still holds those bytes, then adds them to device memory. So a source written after the
/// issue and before the wait (a missing wait), or before the issue by another thread without a barrier in between, fails
/// on the CPU as the race it would be on a GPU, instead of passing by the CPU's timing.
/// </summary>
internal sealed class CpuBulkCopies
{
    private readonly record struct ReduceAdd(nint Destination, nint Source, float[] Snapshot);

    private readonly List<ReduceAdd> _open = [];
    private readonly List<List<ReduceAdd>> _committed = [];

    /// <summary>True when no copy is issued and not yet retired (empty groups hold nothing).</summary>
    public bool Drained => _open.Count == 0 && _committed.TrueForAll(group => group.Count == 0);

    /// <summary>Issues destination[0 … n) += source[0 … n) for <paramref name="bytes"/> / 4 floats.</summary>
    public unsafe void IssueReduceAdd(nint destination, nint source, int bytes)
    {
        if (bytes <= 0 || bytes % 16 != 0)
            throw new InvalidOperationException($"A bulk copy moves a positive multiple of 16 bytes, not {bytes}.");
        if (destination % 16 != 0 || source % 16 != 0)
            throw new InvalidOperationException("A bulk copy's global and shared addresses must be 16-byte aligned.");
        var snapshot = new ReadOnlySpan<float>((void*)source, bytes / sizeof(float)).ToArray();
        _open.Add(new ReduceAdd(destination, source, snapshot));
    }

    /// <summary>Closes the group of the copies issued since the last commit; with none, an empty group, as PTX's commit_group
    /// makes one (so that wait_group N counts groups as the GPU does).</summary>
    public void Commit()
    {
        _committed.Add([.. _open]);
        _open.Clear();
    }

    /// <summary>Retires every committed group but the newest <paramref name="pendingGroups"/>.</summary>
    public void Wait(int pendingGroups)
    {
        while (_committed.Count > pendingGroups)
        {
            foreach (var copy in _committed[0]) Retire(copy);
            _committed.RemoveAt(0);
        }
    }

    /// <summary>A bulk load global → shared completing on an mbarrier (<see cref="BulkCopy.Load{T}"/>): copied now, then the bytes
    /// completed on <paramref name="barrier"/>.</summary>
    public static unsafe void Load(nint destination, nint source, int bytes, ref ulong barrier)
    {
        if (bytes <= 0 || bytes % 16 != 0)
            throw new InvalidOperationException($"A bulk copy moves a positive multiple of 16 bytes, not {bytes}.");
        if (destination % 16 != 0 || source % 16 != 0)
            throw new InvalidOperationException("A bulk copy's global and shared addresses must be 16-byte aligned.");
        Buffer.MemoryCopy((void*)source, (void*)destination, bytes, bytes);
        CpuMBarrier.CompleteTransaction(ref barrier, bytes);
    }

    /// <summary>Forgets every copy (a new group starts on this thread).</summary>
    public void Reset()
    {
        _open.Clear();
        _committed.Clear();
    }

    private static unsafe void Retire(ReduceAdd copy)
    {
        var source = new ReadOnlySpan<float>((void*)copy.Source, copy.Snapshot.Length);
        if (!source.SequenceEqual(copy.Snapshot))
            throw new InvalidOperationException(
                "Shared memory under a bulk copy changed between its issue and the wait that retires it (a missing "
                + "BulkCopy.WaitRead before it was written again, or a barrier missing between its writers and the issue).");
        var destination = (float*)copy.Destination;
        for (int e = 0; e < copy.Snapshot.Length; e++) Atomic.Add(ref destination[e], copy.Snapshot[e]);
    }
}
