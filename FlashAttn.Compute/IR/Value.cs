namespace FlashAttn.Compute.IR;

/// <summary>
/// Anything an instruction can use as an operand: a constant, a function parameter or another
/// instruction's result. The IR keeps no use lists; passes that replace values collect a map and call
/// <see cref="Function.ReplaceUses"/> once.
/// </summary>
public abstract class Value
{
    /// <summary>Creates a value of <paramref name="type"/>.</summary>
    protected Value(IRType type) => Type = type;

    /// <summary>The value's type (address-space inference may narrow a pointer's space).</summary>
    public IRType Type { get; set; }

    /// <summary>A number unique within its function, for printing and for dense maps (see <see cref="Function.Renumber"/>).</summary>
    public int Id { get; set; } = -1;

    /// <summary>An optional readable name (the IL local or parameter it came from).</summary>
    public string? Name { get; set; }
}

/// <summary>A function parameter (a scalar: structs are passed as pointers to a caller-made copy).</summary>
public sealed class Parameter : Value
{
    /// <summary>Creates parameter number <paramref name="index"/>.</summary>
    public Parameter(IRType type, int index, string? name) : base(type)
    {
        Index = index;
        Name = name;
    }

    /// <summary>Position in <see cref="Function.Parameters"/>.</summary>
    public int Index { get; }

    /// <summary>For a kernel parameter passed as a block of bytes (a <see cref="TensorMap"/>: 128 bytes, 64-byte aligned), its
    /// size; the parameter's value is then the block's generic address. 0 for a scalar.</summary>
    public int ByValueBytes { get; set; }

    /// <inheritdoc/>
    public override string ToString() => "%" + (Name ?? "arg" + Index);
}

/// <summary>A constant scalar. Integers are stored sign-extended in <see cref="Bits"/>; floats in <see cref="Float"/>.</summary>
public sealed class Constant : Value
{
    private Constant(IRType type, long bits, double floatValue) : base(type)
    {
        Bits = bits;
        Float = floatValue;
    }

    /// <summary>The integer value, sign-extended from the type's width (Bool: 0 or 1; pointers: the address).</summary>
    public long Bits { get; }

    /// <summary>The floating-point value (for float types; Float32 values are exactly representable).</summary>
    public double Float { get; }

    /// <summary>An integer, Bool or pointer constant; the value is truncated to the type's width and sign-extended.</summary>
    public static Constant Int(IRType type, long value)
    {
        if (type.IsFloat || type.Kind == TypeKind.Void)
            throw new ArgumentException($"Int constant of non-integer type {type}.", nameof(type));
        long normalized = type.Kind switch
        {
            TypeKind.Bool => value != 0 ? 1 : 0,
            TypeKind.Int8 => (sbyte)value,
            TypeKind.Int16 => (short)value,
            TypeKind.Int32 => (int)value,
            _ => value,
        };
        return new Constant(type, normalized, 0);
    }

    /// <summary>A floating-point constant, rounded to the type's precision.</summary>
    public static Constant FloatOf(IRType type, double value)
    {
        if (!type.IsFloat)
            throw new ArgumentException($"Float constant of non-float type {type}.", nameof(type));
        double rounded = type.Kind switch
        {
            TypeKind.Float32 => (float)value,
            TypeKind.Float16 => (double)(Half)value,
            TypeKind.BFloat16 => (float)(BFloat16)(float)value,
            _ => value,
        };
        return new Constant(type, 0, rounded);
    }

    /// <summary>Shorthands.</summary>
    public static Constant I32(int value) => Int(IRType.Int32, value);
    /// <summary>Shorthands.</summary>
    public static Constant I64(long value) => Int(IRType.Int64, value);
    /// <summary>Shorthands.</summary>
    public static Constant F32(float value) => FloatOf(IRType.Float32, value);
    /// <summary>Shorthands.</summary>
    public static Constant Bool(bool value) => Int(IRType.Bool, value ? 1 : 0);

    /// <summary>True when both constants have the same type and value (floats compared bitwise).</summary>
    public bool SameAs(Constant other) => Type == other.Type && Bits == other.Bits
        && BitConverter.DoubleToInt64Bits(Float) == BitConverter.DoubleToInt64Bits(other.Float);

    /// <inheritdoc/>
    public override string ToString() => Type.IsFloat
        ? Float.ToString("R", System.Globalization.CultureInfo.InvariantCulture) + Type
        : Bits.ToString(System.Globalization.CultureInfo.InvariantCulture) + Type;
}
