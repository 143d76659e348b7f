namespace FlashAttn.Compute;

/// <summary>16 floats held in registers once every index is a constant (a warpgroup MMA's accumulators for N = 32).</summary>
public unsafe struct Floats16 : IWarpGroupAccumulators
{
    /// <summary>The elements' count.</summary>
    public const int Length = 16;

    private fixed float _elements[Length];

    /// <summary>Element <paramref name="index"/>.</summary>
    public float this[int index] { readonly get => _elements[index]; set => _elements[index] = value; }
}

/// <summary>32 floats held in registers once every index is a constant (a warpgroup MMA's accumulators for N = 64).</summary>
public unsafe struct Floats32 : IWarpGroupAccumulators
{
    /// <summary>The elements' count.</summary>
    public const int Length = 32;

    private fixed float _elements[Length];

    /// <summary>Element <paramref name="index"/>.</summary>
    public float this[int index] { readonly get => _elements[index]; set => _elements[index] = value; }
}

/// <summary>40 floats held in registers once every index is a constant (a warpgroup MMA's accumulators for N = 80).</summary>
public unsafe struct Floats40 : IWarpGroupAccumulators
{
    /// <summary>The elements' count.</summary>
    public const int Length = 40;

    private fixed float _elements[Length];

    /// <summary>Element <paramref name="index"/>.</summary>
    public float this[int index] { readonly get => _elements[index]; set => _elements[index] = value; }
}

/// <summary>64 floats held in registers once every index is a constant (a warpgroup MMA's accumulators for N = 128).</summary>
public unsafe struct Floats64 : IWarpGroupAccumulators
{
    /// <summary>The elements' count.</summary>
    public const int Length = 64;

    private fixed float _elements[Length];

    /// <summary>Element <paramref name="index"/>.</summary>
    public float this[int index] { readonly get => _elements[index]; set => _elements[index] = value; }
}

/// <summary>128 floats held in registers once every index is a constant (a warpgroup MMA's accumulators for N = 256).</summary>
public unsafe struct Floats128 : IWarpGroupAccumulators
{
    /// <summary>The elements' count.</summary>
    public const int Length = 128;

    private fixed float _elements[Length];

    /// <summary>Element <paramref name="index"/>.</summary>
    public float this[int index] { readonly get => _elements[index]; set => _elements[index] = value; }
}
