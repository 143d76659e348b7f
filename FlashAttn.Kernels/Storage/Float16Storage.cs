namespace FlashAttn.Kernels;

/// <summary>fp16 (IEEE binary16, <see cref="Half"/>) storage.</summary>
internal readonly struct Float16Storage : IStorage<Half>
{
    /// <inheritdoc/>
    public static float Load(Half value) => (float)value;

    /// <inheritdoc/>
    public static Half Store(float value) => (Half)value;
}
