namespace FlashAttn.Compute;

/// <summary>The thread group (CUDA block) as seen from inside a kernel.</summary>
public static class Group
{
    /// <summary>Index of this thread in its group along x (PTX %tid.x).</summary>
    public static int IdxX { [Intrinsic(IntrinsicOp.ThreadIdxX)] get => Runtime.Cpu.CpuContext.Current.ThreadIndex.X; }
    /// <summary>Index of this thread in its group along y (PTX %tid.y).</summary>
    public static int IdxY { [Intrinsic(IntrinsicOp.ThreadIdxY)] get => Runtime.Cpu.CpuContext.Current.ThreadIndex.Y; }
    /// <summary>Index of this thread in its group along z (PTX %tid.z).</summary>
    public static int IdxZ { [Intrinsic(IntrinsicOp.ThreadIdxZ)] get => Runtime.Cpu.CpuContext.Current.ThreadIndex.Z; }
    /// <summary>Threads per group along x (PTX %ntid.x).</summary>
    public static int DimX { [Intrinsic(IntrinsicOp.GroupDimX)] get => Runtime.Cpu.CpuContext.Current.GroupDim.X; }
    /// <summary>Threads per group along y (PTX %ntid.y).</summary>
    public static int DimY { [Intrinsic(IntrinsicOp.GroupDimY)] get => Runtime.Cpu.CpuContext.Current.GroupDim.Y; }
    /// <summary>Threads per group along z (PTX %ntid.z).</summary>
    public static int DimZ { [Intrinsic(IntrinsicOp.GroupDimZ)] get => Runtime.Cpu.CpuContext.Current.GroupDim.Z; }

    /// <summary>Linear index of this thread in its group: x + DimX·(y + DimY·z).</summary>
    public static int LinearIndex => IdxX + DimX * (IdxY + DimY * IdxZ);

    /// <summary>Every thread of the group waits here until all have arrived (PTX bar.sync 0).
    /// Shared-memory writes before the barrier are visible to every thread after it.</summary>
    [Intrinsic(IntrinsicOp.Barrier)]
    public static void Barrier() => Runtime.Cpu.CpuContext.Current.Barrier();

    /// <summary>Barrier that also counts the threads whose <paramref name="predicate"/> is true.</summary>
    [Intrinsic(IntrinsicOp.BarrierPopCount)]
    public static int BarrierPopCount(bool predicate) => Runtime.Cpu.CpuContext.Current.BarrierReduce(predicate ? 1 : 0, BarrierReduction.Count);

    /// <summary>Barrier that is true when <paramref name="predicate"/> is true in every thread.</summary>
    [Intrinsic(IntrinsicOp.BarrierAnd)]
    public static bool BarrierAnd(bool predicate) => Runtime.Cpu.CpuContext.Current.BarrierReduce(predicate ? 1 : 0, BarrierReduction.And) != 0;

    /// <summary>Barrier that is true when <paramref name="predicate"/> is true in any thread.</summary>
    [Intrinsic(IntrinsicOp.BarrierOr)]
    public static bool BarrierOr(bool predicate) => Runtime.Cpu.CpuContext.Current.BarrierReduce(predicate ? 1 : 0, BarrierReduction.Or) != 0;

    /// <summary>Orders this thread's memory accesses as seen by the other threads of its group (membar.cta).</summary>
    [Intrinsic(IntrinsicOp.MemoryFenceGroup)]
    public static void MemoryFence() => Interlocked.MemoryBarrier();
}

/// <summary>How the barrier reductions combines the threads' values.</summary>
public enum BarrierReduction
{
    /// <summary>Number of non-zero values.</summary>
    Count,
    /// <summary>1 when every value is non-zero.</summary>
    And,
    /// <summary>1 when any value is non-zero.</summary>
    Or,
}

/// <summary>How <see cref="Warp.Sum(int)"/>, <see cref="Warp.Min(int)"/>, <see cref="Warp.Max(int)"/> and <see cref="Warp.Or(int)"/>
/// combine the lanes' values.</summary>
public enum WarpReduction
{
    /// <summary>The sum (wrapping).</summary>
    Add,
    /// <summary>The signed minimum.</summary>
    Min,
    /// <summary>The signed maximum.</summary>
    Max,
    /// <summary>The bitwise or.</summary>
    Or,
}
