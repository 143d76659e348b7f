namespace FlashAttn.Kernels;

/// <summary>
/// Work to run once the storage of element type <typeparamref name="T"/> is known (<see cref="StorageChoice{T}"/>
/// picks it): kernels are then named as plain generic methods, <c>Kernel.Forward&lt;T, TStorage&gt;</c>.
/// </summary>
internal interface IStorageBody<T> where T : unmanaged
{
    /// <summary>Runs with a storage that only loads and stores (fp32 on the FFMA kernels).</summary>
    void Run<TStorage>() where TStorage : struct, IStorage<T>;

    /// <summary>Runs with a storage the tensor-core kernels accept (fp16, bf16; fp32 as 3×TF32).</summary>
    void RunWithTensorCores<TStorage>() where TStorage : struct, ITensorCoreStorage<T>;

    /// <summary>Runs with a 16-bit storage (fp16, bf16), which the Hopper kernels also accept; by default as
    /// <see cref="RunWithTensorCores{TStorage}"/>.</summary>
    void RunWithHalves<TStorage>() where TStorage : struct, IHalfStorage<T> => RunWithTensorCores<TStorage>();
}
