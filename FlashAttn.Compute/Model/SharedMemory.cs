using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Compute;

/// <summary>Memory shared by the threads of one group (CUDA shared memory).</summary>
public static class SharedMemory
{
    /// <summary>
    /// A static shared array of <paramref name="length"/> elements, one per group. The length must be a
    /// constant once the kernel is specialized. Every thread of the group sees the same array.
    /// </summary>
    [Intrinsic(IntrinsicOp.SharedAllocate)]
    public static unsafe ArrayView<T> Allocate<T>(int length) where T : unmanaged
        => new((T*)CpuContext.Current.AllocateShared(checked(length * sizeof(T)), 16), length);

    /// <summary>The launch's dynamic shared memory seen as elements of <typeparamref name="T"/>.</summary>
    [Intrinsic(IntrinsicOp.SharedDynamic)]
    public static unsafe ArrayView<T> GetDynamic<T>() where T : unmanaged
        => new((T*)CpuContext.Current.DynamicShared, CpuContext.Current.DynamicSharedBytes / sizeof(T));

    /// <summary>The 32-bit shared-window address of <paramref name="element"/> (a shared-memory element), as matrix descriptors
    /// (<see cref="WarpGroupMma.Descriptor"/>) take it: <c>cvta.to.shared</c> on the GPU, the offset from the group's shared
    /// memory start on the CPU.</summary>
    [Intrinsic(IntrinsicOp.SharedAddress)]
    public static unsafe uint AddressOf<T>(ref T element) where T : unmanaged
        => CpuContext.Current.SharedAddress((nint)System.Runtime.CompilerServices.Unsafe.AsPointer(ref element));
}

/// <summary>Per-thread arrays: registers once every index is a constant, otherwise thread-local memory.</summary>
public static class LocalMemory
{
    /// <summary>A per-thread array of <paramref name="length"/> elements (a constant once specialized),
    /// zero-initialized on the CPU and uninitialized on the GPU: write before reading.</summary>
    [Intrinsic(IntrinsicOp.LocalAllocate)]
    public static unsafe ArrayView<T> Allocate<T>(int length) where T : unmanaged
        => new((T*)CpuContext.Current.AllocateLocal(checked(length * sizeof(T)), 16), length);
}
