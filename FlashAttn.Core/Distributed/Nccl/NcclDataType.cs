namespace FlashAttn.Distributed;

/// <summary>NCCL's element types (<c>ncclDataType_t</c>), those a <see cref="DType"/> maps to and the 64-bit integers of
/// <c>NcclProcessGroup</c>'s all-gather.</summary>
internal enum NcclDataType
{
    Int8 = 0,
    Uint8 = 1,
    Int32 = 2,
    Uint32 = 3,
    Int64 = 4,
    Uint64 = 5,
    Float16 = 6,
    Float32 = 7,
    Float64 = 8,
    BFloat16 = 9,
}

/// <summary>Maps tensor element types to NCCL's.</summary>
internal static class NcclDataTypes
{
    /// <summary>The NCCL type of <paramref name="dtype"/>'s elements.</summary>
    /// <exception cref="NotSupportedException">An element type without an NCCL counterpart (none today).</exception>
    public static NcclDataType Of(DType dtype) => dtype switch
    {
        DType.Float32 => NcclDataType.Float32,
        DType.Float16 => NcclDataType.Float16,
        DType.BFloat16 => NcclDataType.BFloat16,
        DType.Int32 => NcclDataType.Int32,
        _ => throw new NotSupportedException($"NCCL has no element type for {dtype}."),
    };
}
