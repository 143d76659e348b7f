namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// The CPU meaning of <see cref="TensorCopy"/>: the box is read from the tensor the map describes (zero outside it), laid
/// out densely from the destination's shared-window address, each byte moved by the map's swizzle
/// (<see cref="SharedSwizzles.Apply"/>), and its bytes completed on the barrier, all at the call.
/// </summary>
internal static class CpuTensorCopies
{
    public static unsafe void Load(nint destination, in TensorMap map, ReadOnlySpan<int> coordinates, ref ulong barrier)
    {
        if (coordinates.Length != map.Rank)
            throw new InvalidOperationException($"A tensor copy of a {map.Rank}-dimensional map takes {map.Rank} coordinates, not {coordinates.Length}.");
        var context = CpuContext.Current;
        int window = (int)context.SharedAddress(destination);
        int rowBytes = SharedSwizzles.RowBytes(map.Swizzle);
        int alignment = Math.Max(128, 8 * rowBytes);
        if (window % alignment != 0)
            throw new InvalidOperationException($"A tensor copy's shared destination must be {alignment}-byte aligned (shared-window address {window}).");
        int rank = map.Rank, size = map.ElementBytes, count = map.BoxBytes / size;
        Span<int> index = stackalloc int[TensorMap.MaxRank];
        for (int e = 0; e < count; e++)
        {
            // the e-th element of the box, dimension 0 fastest
            int rest = e;
            bool inside = true;
            long offset = 0;
            for (int d = 0; d < rank; d++)
            {
                index[d] = rest % map.Box(d);
                rest /= map.Box(d);
                long coordinate = (long)coordinates[d] + index[d];
                inside &= coordinate >= 0 && coordinate < map.Dimension(d);
                offset += coordinate * map.ByteStride(d);
            }
            byte* target = (byte*)context.SharedPointer(SharedSwizzles.Apply(window + e * size, map.Swizzle));
            if (inside) Buffer.MemoryCopy((void*)(map.Address + (ulong)offset), target, size, size);
            else new Span<byte>(target, size).Clear();
        }
        CpuMBarrier.CompleteTransaction(ref barrier, map.BoxBytes);
    }
}
