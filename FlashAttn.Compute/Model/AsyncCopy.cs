using System.Runtime.CompilerServices;

namespace FlashAttn.Compute;

/// <summary>
/// Global → shared copies that run in the background while the group computes (PTX <c>cp.async</c>, sm_80+;
/// older targets copy synchronously). A thread's copies have landed after <see cref="WaitAll"/>; a
/// <see cref="Group.Barrier"/> after that makes every thread's copies visible to the whole group.
/// On the CPU the copy happens at once.
/// </summary>
public static class AsyncCopy
{
    /// <summary>
    /// Copies 16 bytes (four floats) from <paramref name="globalSource"/> to <paramref name="sharedDestination"/>
    /// when <paramref name="fetch"/>, else writes 16 zero bytes without reading the source (ragged tile edges).
    /// Both addresses must be 16-byte aligned; the source must be a valid address even when not fetched.
    /// </summary>
    [Intrinsic(IntrinsicOp.AsyncCopy16)]
    public static void Copy16(ref float sharedDestination, ref float globalSource, bool fetch)
    {
        ref var destination = ref Unsafe.As<float, Float4>(ref sharedDestination);
        destination = fetch ? Unsafe.As<float, Float4>(ref globalSource) : default;
    }

    /// <summary>Waits until this thread's asynchronous copies have landed.</summary>
    [Intrinsic(IntrinsicOp.AsyncCopyWaitAll)]
    public static void WaitAll() { }
}
