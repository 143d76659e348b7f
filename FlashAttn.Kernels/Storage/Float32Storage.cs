using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>fp32 storage: loads and stores are identities.</summary>
internal readonly struct Float32Storage : IStorage<float>
{
    /// <inheritdoc/>
    public static float Load(float value) => value;

    /// <inheritdoc/>
    public static float Store(float value) => value;

    /// <inheritdoc/>
    public static void StageFour(ArrayView<float> source, long index, bool fetch, ArrayView<float> destination, int destinationIndex)
        => AsyncCopy.Copy16(ref destination[destinationIndex], ref source[index], fetch);
}
