namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// What the programming model's managed bodies need from the CPU runtime: the calling thread's place in
/// the launch, and the group-wide operations (barriers, warp exchanges, shared memory). One instance per
/// running group thread, reached through <see cref="Current"/>.
/// </summary>
internal abstract class CpuContext
{
    [ThreadStatic] private static CpuContext? t_current;

    /// <summary>The context of the kernel thread running on this OS thread.</summary>
    /// <exception cref="InvalidOperationException">The caller is not inside a kernel launched on the CPU.</exception>
    public static CpuContext Current => t_current ?? throw new InvalidOperationException(
        "Programming-model members (Grid, Group, Warp, SharedMemory, ...) can only be used inside a kernel launched on an accelerator.");

    /// <summary>Binds <paramref name="context"/> to the calling OS thread (null unbinds).</summary>
    public static void Bind(CpuContext? context) => t_current = context;

    /// <summary>Index of this thread within its group.</summary>
    public abstract Dim3 ThreadIndex { get; }
    /// <summary>Index of this group within the grid.</summary>
    public abstract Dim3 GroupIndex { get; }
    /// <summary>Threads per group.</summary>
    public abstract Dim3 GroupDim { get; }
    /// <summary>Groups per grid.</summary>
    public abstract Dim3 GridDim { get; }
    /// <summary>Lane of this thread within its warp (linear index mod 32).</summary>
    public abstract int LaneIndex { get; }

    /// <summary>Group barrier (bar.sync 0).</summary>
    public abstract void Barrier();
    /// <summary>Group barrier that combines one value per thread.</summary>
    public abstract int BarrierReduce(int value, BarrierReduction reduction);
    /// <summary>Barrier among the threads of this thread's warp.</summary>
    public abstract void WarpBarrier();
    /// <summary>Exchanges a 32-bit payload within the warp (all 32 lanes take part, as shfl.sync with a full mask).</summary>
    public abstract int Shuffle(int value, int laneOrDelta, ShuffleMode mode);
    /// <summary>Combines one value per lane over the warp (as redux.sync with a full mask); every lane gets the result.</summary>
    public abstract int WarpReduce(int value, WarpReduction reduction);

    /// <summary>
    /// Every lane of the warp publishes <paramref name="words"/> (at most <see cref="CpuBarrierPoint.WideExchangeWords"/>)
    /// and gets all lanes' words back: lane l's at [l · <see cref="CpuBarrierPoint.WideExchangeWords"/> …]. The array stays
    /// valid until this thread's next exchange but one (slots alternate by barrier generation), so read it before the
    /// next warp-collective operation.
    /// </summary>
    public abstract int[] WarpExchange(ReadOnlySpan<int> words);

    /// <summary>The k-th static shared allocation of the group: the k-th call in every thread returns the same block.</summary>
    public abstract nint AllocateShared(int bytes, int alignment);
    /// <summary>Start of the launch's dynamic shared memory.</summary>
    public abstract nint DynamicShared { get; }
    /// <summary>Size in bytes of the launch's dynamic shared memory.</summary>
    public abstract int DynamicSharedBytes { get; }

    /// <summary>The 32-bit shared-window address of <paramref name="pointer"/> (<see cref="SharedMemory.AddressOf{T}"/>): its
    /// offset from the group's shared memory, which starts with the dynamic part.</summary>
    public uint SharedAddress(nint pointer) => (uint)(pointer - DynamicShared);

    /// <summary>The pointer at shared-window address <paramref name="address"/> (what a matrix descriptor holds).</summary>
    public nint SharedPointer(int address) => DynamicShared + address;
    /// <summary>Per-thread scratch memory, released when the thread's kernel body returns.</summary>
    public abstract nint AllocateLocal(int bytes, int alignment);

    /// <summary>This thread's bulk copies in flight (<see cref="BulkCopy"/>).</summary>
    public CpuBulkCopies BulkCopies { get; } = new();

    /// <summary>This thread's cp.async copies in flight (<see cref="AsyncCopy"/>).</summary>
    public CpuAsyncCopies AsyncCopies { get; } = new();
}

/// <summary>Which lane a warp shuffle reads from.</summary>
public enum ShuffleMode
{
    /// <summary>Lane <c>src &amp; 31</c>.</summary>
    Index,
    /// <summary>Lane <c>lane ^ mask</c>.</summary>
    Xor,
    /// <summary>Lane <c>lane - delta</c>; lanes below delta keep their own value.</summary>
    Up,
    /// <summary>Lane <c>lane + delta</c>; lanes past 31 keep their own value.</summary>
    Down,
}
