using System.Runtime.CompilerServices;
using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Compute;

/// <summary>
/// Tensor copies by the tensor memory accelerator (TMA, PTX <c>cp.async.bulk.tensor</c>, sm_90 and PTX ISA 8.0): one thread
/// asks for a whole box of a <see cref="TensorMap"/> at element coordinates (innermost first, which may lie partly outside
/// the tensor: those elements read as zero), and the copy engine writes it into shared memory, swizzled as the map says,
/// completing the box's bytes on an <see cref="MBarrier"/>. The issuing thread announces the bytes first
/// (<see cref="MBarrier.ArriveExpectTransaction"/>, <see cref="TensorMap.BoxBytes"/> per copy); readers wait for the
/// barrier's phase. The shared destination is 128-byte aligned, and aligned to 8 swizzle rows (256, 512 or 1024 bytes) when
/// swizzled. Only where <c>AcceleratorInfo.HasBulkCopies</c>; pass the map as the kernel's parameter, with <c>in</c>.
/// </summary>
/// <remarks>On the CPU and in the interpreter the box is copied at the call, then its bytes are completed on the barrier.</remarks>
public static unsafe class TensorCopy
{
    /// <summary>The box of a one-dimensional <paramref name="map"/> at <paramref name="x"/>.</summary>
    [Intrinsic(IntrinsicOp.TensorLoad)]
    public static void Load<T>(ref T sharedDestination, in TensorMap map, int x, ref ulong barrier) where T : unmanaged
        => CpuTensorCopies.Load(Address(ref sharedDestination), in map, [x], ref barrier);

    /// <summary>The box of a two-dimensional <paramref name="map"/> at (<paramref name="x"/>, <paramref name="y"/>).</summary>
    [Intrinsic(IntrinsicOp.TensorLoad)]
    public static void Load<T>(ref T sharedDestination, in TensorMap map, int x, int y, ref ulong barrier) where T : unmanaged
        => CpuTensorCopies.Load(Address(ref sharedDestination), in map, [x, y], ref barrier);

    /// <summary>The box of a three-dimensional <paramref name="map"/> at (<paramref name="x"/>, <paramref name="y"/>, <paramref name="z"/>).</summary>
    [Intrinsic(IntrinsicOp.TensorLoad)]
    public static void Load<T>(ref T sharedDestination, in TensorMap map, int x, int y, int z, ref ulong barrier) where T : unmanaged
        => CpuTensorCopies.Load(Address(ref sharedDestination), in map, [x, y, z], ref barrier);

    /// <summary>The box of a four-dimensional <paramref name="map"/> at (<paramref name="x"/>, <paramref name="y"/>, <paramref name="z"/>,
    /// <paramref name="w"/>): e.g. (d, head, row, batch) of a (batch, seqlen, heads, d) tensor.</summary>
    [Intrinsic(IntrinsicOp.TensorLoad)]
    public static void Load<T>(ref T sharedDestination, in TensorMap map, int x, int y, int z, int w, ref ulong barrier) where T : unmanaged
        => CpuTensorCopies.Load(Address(ref sharedDestination), in map, [x, y, z, w], ref barrier);

    /// <summary>The box of a five-dimensional <paramref name="map"/> at (<paramref name="x"/>, … , <paramref name="v"/>).</summary>
    [Intrinsic(IntrinsicOp.TensorLoad)]
    public static void Load<T>(ref T sharedDestination, in TensorMap map, int x, int y, int z, int w, int v, ref ulong barrier) where T : unmanaged
        => CpuTensorCopies.Load(Address(ref sharedDestination), in map, [x, y, z, w, v], ref barrier);

    private static nint Address<T>(ref T value) => (nint)Unsafe.AsPointer(ref value);
}
