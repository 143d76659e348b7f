using FlashAttn.Compute.Runtime.Cpu;
using System.Runtime.CompilerServices;

namespace FlashAttn.Compute;

/// <summary>
/// Global → shared copies that run in the background while the group computes (PTX <c>cp.async</c>, sm_80+;
/// older targets copy synchronously). A thread's copies have landed after <see cref="WaitAll"/>; a
/// <see cref="Group.Barrier"/> after that makes every thread's copies visible to the whole group.
/// On the CPU a copy reads its source when issued and lands when a wait retires its group (<c>CpuAsyncCopies</c>), so a
/// missing wait shows as stale shared memory there too.
/// </summary>
public static class AsyncCopy
{
    /// <summary>
    /// Copies 16 bytes (four floats) from <paramref name="globalSource"/> to <paramref name="sharedDestination"/>
    /// when <paramref name="fetch"/>, else writes 16 zero bytes without reading the source (ragged tile edges).
    /// Both addresses must be 16-byte aligned; the source must be a valid address even when not fetched.
    /// </summary>
    [Intrinsic(IntrinsicOp.AsyncCopy16)]
    public static unsafe void Copy16(ref float sharedDestination, ref float globalSource, bool fetch)
        => CpuContext.Current.AsyncCopies.Issue((nint)Unsafe.AsPointer(ref sharedDestination),
            fetch ? Unsafe.As<float, Float4>(ref globalSource) : default);

    /// <summary>
    /// <see cref="Copy16(ref float, ref float, bool)"/> for any element type: 16 bytes (e.g. eight fp16 values) from
    /// <paramref name="globalSource"/> to <paramref name="sharedDestination"/>, or 16 zero bytes when not
    /// <paramref name="fetch"/>. Both addresses 16-byte aligned.
    /// </summary>
    [Intrinsic(IntrinsicOp.AsyncCopy16)]
    public static unsafe void Copy16<T>(ref T sharedDestination, ref T globalSource, bool fetch) where T : unmanaged
        => CpuContext.Current.AsyncCopies.Issue((nint)Unsafe.AsPointer(ref sharedDestination),
            fetch ? Unsafe.As<T, Float4>(ref globalSource) : default);

    /// <summary>Waits until this thread's asynchronous copies have landed.</summary>
    [Intrinsic(IntrinsicOp.AsyncCopyWaitAll)]
    public static void WaitAll() => CpuContext.Current.AsyncCopies.WaitAll();

    /// <summary>Closes the group of this thread's copies issued since the last commit (cp.async.commit_group).</summary>
    [Intrinsic(IntrinsicOp.AsyncCopyCommit)]
    public static void Commit() => CpuContext.Current.AsyncCopies.Commit();

    /// <summary>
    /// Waits until at most <paramref name="pendingGroups"/> of this thread's committed groups are still in flight
    /// (cp.async.wait_group N; N must be a compile-time constant): with a ring of stages, the oldest has landed while the
    /// newer ones keep streaming. A barrier then publishes the landed copies to the group.
    /// </summary>
    [Intrinsic(IntrinsicOp.AsyncCopyWaitGroup)]
    public static void WaitGroup(int pendingGroups) => CpuContext.Current.AsyncCopies.Wait(pendingGroups);
}
