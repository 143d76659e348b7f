namespace FlashAttn.Compute;

/// <summary>A three-dimensional extent or index (grid size, group size, or a position in one).</summary>
/// <param name="X">Extent along x (fastest varying).</param>
/// <param name="Y">Extent along y.</param>
/// <param name="Z">Extent along z.</param>
public readonly record struct Dim3(int X, int Y = 1, int Z = 1)
{
    /// <summary>X·Y·Z.</summary>
    public long Size => (long)X * Y * Z;

    /// <summary>A one-dimensional extent.</summary>
    public static implicit operator Dim3(int x) => new(x);

    /// <inheritdoc/>
    public override string ToString() => $"({X}, {Y}, {Z})";
}
