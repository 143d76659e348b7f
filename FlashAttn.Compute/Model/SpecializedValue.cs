namespace FlashAttn.Compute;

/// <summary>
/// A kernel parameter whose value is fixed when the kernel is compiled: the compiler treats it as a
/// constant, so loops bounded by it unroll and branches on it fold. Each distinct value compiles (and
/// caches) its own kernel.
/// </summary>
/// <typeparam name="T">int, long, float, bool or another unmanaged primitive.</typeparam>
/// <param name="value">The value to compile in.</param>
public readonly struct SpecializedValue<T>(T value) : IEquatable<SpecializedValue<T>>
    where T : unmanaged, IEquatable<T>
{
    /// <summary>The compiled-in value.</summary>
    public T Value { get; } = value;

    /// <inheritdoc/>
    public bool Equals(SpecializedValue<T> other) => Value.Equals(other.Value);
    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is SpecializedValue<T> other && Equals(other);
    /// <inheritdoc/>
    public override int GetHashCode() => Value.GetHashCode();
    /// <inheritdoc/>
    public override string ToString() => $"Specialized({Value})";

    /// <summary>Wraps a value.</summary>
    public static implicit operator SpecializedValue<T>(T value) => new(value);
}

/// <summary>Creates <see cref="SpecializedValue{T}"/> instances.</summary>
public static class SpecializedValue
{
    /// <summary>Wraps <paramref name="value"/> for compile-time specialization.</summary>
    public static SpecializedValue<T> New<T>(T value) where T : unmanaged, IEquatable<T> => new(value);
}
