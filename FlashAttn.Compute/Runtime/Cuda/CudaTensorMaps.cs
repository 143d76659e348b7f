namespace FlashAttn.Compute.Runtime.Cuda;

/// <summary>A <see cref="TensorMap"/> as the driver's 128-byte <c>CUtensorMap</c>, encoded into a launch's parameter block.</summary>
internal static unsafe class CudaTensorMaps
{
    /// <summary>Encodes <paramref name="map"/> at <paramref name="destination"/> (cuTensorMapEncodeTiled: elements unstrided, no
    /// interleave, L2 promotion of 256 bytes, zeros outside the tensor).</summary>
    /// <exception cref="CudaException">The driver refused the map (its message, and <paramref name="kernel"/>'s name).</exception>
    public static void Encode(byte* destination, in TensorMap map, string kernel)
    {
        byte* scratch = stackalloc byte[TensorMap.DeviceBytes + 64];
        byte* aligned = (byte*)(((nint)scratch + 63) & ~(nint)63); // the driver writes a 64-byte-aligned CUtensorMap
        ulong* dimensions = stackalloc ulong[TensorMap.MaxRank];
        ulong* strides = stackalloc ulong[TensorMap.MaxRank];
        uint* box = stackalloc uint[TensorMap.MaxRank];
        uint* elementStrides = stackalloc uint[TensorMap.MaxRank];
        for (int d = 0; d < map.Rank; d++)
        {
            dimensions[d] = (ulong)map.Dimension(d);
            if (d > 0) strides[d - 1] = (ulong)map.ByteStride(d);
            box[d] = (uint)map.Box(d);
            elementStrides[d] = 1;
        }
        int swizzle = map.Swizzle switch
        {
            SharedSwizzle.Bytes32 => 1,
            SharedSwizzle.Bytes64 => 2,
            SharedSwizzle.Bytes128 => 3,
            _ => 0,
        };
        const int NoInterleave = 0, L2Promotion256 = 3, ZeroFill = 0;
        var result = CudaApi.cuTensorMapEncodeTiled(aligned, (int)map.Element, (uint)map.Rank, map.Address, dimensions, strides, box,
            elementStrides, NoInterleave, swizzle, L2Promotion256, ZeroFill);
        if (result != CudaResult.Success) throw new CudaException(result, "cuTensorMapEncodeTiled", kernel);
        Buffer.MemoryCopy(aligned, destination, TensorMap.DeviceBytes, TensorMap.DeviceBytes);
    }
}
