namespace FlashAttn.Kernels;

/// <summary>fp32 storage: loads and stores are identities.</summary>
internal readonly struct Float32Storage : IStorage<float>
{
    /// <inheritdoc/>
    public static float Load(float value) => value;

    /// <inheritdoc/>
    public static float Store(float value) => value;
}
