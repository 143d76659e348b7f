using System.Runtime.CompilerServices;
using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Compute;

/// <summary>
/// Bulk asynchronous copies (PTX <c>cp.async.bulk</c>, sm_90 and PTX ISA 8.0; the copy engine moves a whole run of bytes
/// for one instruction of one thread, no registers involved). Use: the threads that wrote the shared source each call
/// <see cref="FenceSharedForAsync"/>, a barrier follows, then one thread issues the copy and <see cref="Commit"/>s; before
/// anyone writes the source again that thread calls <see cref="WaitRead"/> (and a barrier publishes that), and before the
/// kernel returns <see cref="Wait"/>. Only on targets that have them (<c>AcceleratorInfo.HasBulkCopies</c>); the CPU runs
/// them with a check that the source was not written while in flight (<c>CpuBulkCopies</c>).
/// </summary>
public static unsafe class BulkCopy
{
    /// <summary>
    /// globalDestination[0 … n) += sharedSource[0 … n) with n = <paramref name="bytes"/> / 4, in the background
    /// (<c>cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32</c>): each float added atomically on its own, as
    /// <see cref="Atomic.Add(ref float, float)"/>. Both addresses 16-byte aligned, <paramref name="bytes"/> a positive multiple
    /// of 16.
    /// </summary>
    [Intrinsic(IntrinsicOp.BulkReduceAdd)]
    public static void ReduceAdd(ref float globalDestination, ref float sharedSource, int bytes)
        => CpuContext.Current.BulkCopies.IssueReduceAdd((nint)Unsafe.AsPointer(ref globalDestination), (nint)Unsafe.AsPointer(ref sharedSource), bytes);

    /// <summary>
    /// sharedDestination[0 … n) = globalSource[0 … n) for <paramref name="bytes"/> bytes (a positive multiple of 16, both
    /// addresses 16-byte aligned) by the copy engine, completing <paramref name="bytes"/> transaction bytes on
    /// <paramref name="barrier"/> (an <see cref="MBarrier"/> in shared memory) when they have landed
    /// (<c>cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes</c>): one thread issues it, usually right after
    /// announcing the bytes with <see cref="MBarrier.ArriveExpectTransaction"/>, and the readers wait for the barrier's phase.
    /// No commit or wait of its own. On the CPU the bytes are copied at the call, then completed on the barrier.
    /// </summary>
    [Intrinsic(IntrinsicOp.BulkLoad)]
    public static void Load<T>(ref T sharedDestination, ref T globalSource, int bytes, ref ulong barrier) where T : unmanaged
        => CpuBulkCopies.Load((nint)Unsafe.AsPointer(ref sharedDestination), (nint)Unsafe.AsPointer(ref globalSource), bytes, ref barrier);

    /// <summary>Closes the group of this thread's bulk copies issued since the last commit (<c>cp.async.bulk.commit_group</c>).</summary>
    [Intrinsic(IntrinsicOp.BulkCommit)]
    public static void Commit() => CpuContext.Current.BulkCopies.Commit();

    /// <summary>
    /// Waits until all but the newest <paramref name="pendingGroups"/> of this thread's committed groups have read their
    /// shared source (<c>cp.async.bulk.wait_group.read N</c>; N a compile-time constant): that memory may be written again.
    /// </summary>
    [Intrinsic(IntrinsicOp.BulkWaitRead)]
    public static void WaitRead(int pendingGroups) => CpuContext.Current.BulkCopies.Wait(pendingGroups);

    /// <summary>Waits until all but the newest <paramref name="pendingGroups"/> of this thread's committed groups are complete,
    /// their writes done (<c>cp.async.bulk.wait_group N</c>; N a compile-time constant).</summary>
    [Intrinsic(IntrinsicOp.BulkWait)]
    public static void Wait(int pendingGroups) => CpuContext.Current.BulkCopies.Wait(pendingGroups);

    /// <summary>Makes this thread's ordinary shared-memory writes visible to bulk copies issued after the next barrier
    /// (<c>fence.proxy.async.shared::cta</c>); nothing to do on the CPU.</summary>
    [Intrinsic(IntrinsicOp.FenceProxyAsyncShared)]
    public static void FenceSharedForAsync() { }
}
