using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// How a storage element type converts to and from the fp32 that every kernel computes in. Kernels are
/// generic over a struct implementing this interface; the compiler resolves the static calls, so each
/// dtype gets its own kernel without a copied loop body.
/// </summary>
/// <typeparam name="T">The element type in device memory: float, Half or BFloat16.</typeparam>
internal interface IStorage<T> where T : unmanaged
{
    /// <summary>Widens a stored element to fp32.</summary>
    static abstract float Load(T value);

    /// <summary>Rounds an fp32 value to the storage type (round to nearest even).</summary>
    static abstract T Store(float value);

    /// <summary>
    /// Stages four consecutive elements, source[index … index+3], into fp32 shared memory at
    /// destination[destinationIndex …] (16-byte aligned), or four zeros when not <paramref name="fetch"/> (the source
    /// is then not read, but <paramref name="index"/> must still be in range). fp32 copies in the background
    /// (<see cref="Compute.AsyncCopy"/>: the caller waits and places the barrier); other types widen synchronously.
    /// </summary>
    static abstract void StageFour(ArrayView<T> source, long index, bool fetch, ArrayView<float> destination, int destinationIndex);
}
