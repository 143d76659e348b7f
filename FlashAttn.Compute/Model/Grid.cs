namespace FlashAttn.Compute;

/// <summary>The launch grid as seen from inside a kernel: which group this is and how many there are.</summary>
public static class Grid
{
    /// <summary>Index of this group in the grid along x (PTX %ctaid.x).</summary>
    public static int IdxX { [Intrinsic(IntrinsicOp.GroupIdxX)] get => Runtime.Cpu.CpuContext.Current.GroupIndex.X; }
    /// <summary>Index of this group in the grid along y (PTX %ctaid.y).</summary>
    public static int IdxY { [Intrinsic(IntrinsicOp.GroupIdxY)] get => Runtime.Cpu.CpuContext.Current.GroupIndex.Y; }
    /// <summary>Index of this group in the grid along z (PTX %ctaid.z).</summary>
    public static int IdxZ { [Intrinsic(IntrinsicOp.GroupIdxZ)] get => Runtime.Cpu.CpuContext.Current.GroupIndex.Z; }
    /// <summary>Number of groups along x (PTX %nctaid.x).</summary>
    public static int DimX { [Intrinsic(IntrinsicOp.GridDimX)] get => Runtime.Cpu.CpuContext.Current.GridDim.X; }
    /// <summary>Number of groups along y (PTX %nctaid.y).</summary>
    public static int DimY { [Intrinsic(IntrinsicOp.GridDimY)] get => Runtime.Cpu.CpuContext.Current.GridDim.Y; }
    /// <summary>Number of groups along z (PTX %nctaid.z).</summary>
    public static int DimZ { [Intrinsic(IntrinsicOp.GridDimZ)] get => Runtime.Cpu.CpuContext.Current.GridDim.Z; }

    /// <summary>Global thread index along x: <c>Grid.IdxX * Group.DimX + Group.IdxX</c>.</summary>
    public static int GlobalIndexX => IdxX * Group.DimX + Group.IdxX;
}
