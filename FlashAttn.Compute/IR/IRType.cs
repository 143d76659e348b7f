namespace FlashAttn.Compute.IR;

/// <summary>What kind of scalar an IR value holds. Integers are signless: signedness lives in operations.</summary>
public enum TypeKind
{
    /// <summary>No value (a store, a branch, a void call).</summary>
    Void,
    /// <summary>A one-bit predicate (comparison results; PTX .pred). One byte when stored in memory (as Int8).</summary>
    Bool,
    /// <summary>8-bit integer.</summary>
    Int8,
    /// <summary>16-bit integer.</summary>
    Int16,
    /// <summary>32-bit integer.</summary>
    Int32,
    /// <summary>64-bit integer.</summary>
    Int64,
    /// <summary>IEEE binary16 (System.Half).</summary>
    Float16,
    /// <summary>bfloat16 (top half of a float32).</summary>
    BFloat16,
    /// <summary>IEEE binary32.</summary>
    Float32,
    /// <summary>IEEE binary64.</summary>
    Float64,
    /// <summary>A 64-bit address in one <see cref="AddressSpace"/>.</summary>
    Pointer,
}

/// <summary>Where a pointer points. Generic until address-space inference proves more.</summary>
public enum AddressSpace
{
    /// <summary>Unknown space (PTX generic addressing).</summary>
    Generic,
    /// <summary>Device memory (ld.global / st.global).</summary>
    Global,
    /// <summary>Group-shared memory (ld.shared / st.shared).</summary>
    Shared,
    /// <summary>Per-thread memory: allocas and local arrays (ld.local / st.local), or registers once promoted.</summary>
    Local,
}

/// <summary>An IR scalar type. Instances are interned: compare with <c>==</c>.</summary>
public sealed class IRType
{
    private static readonly IRType[] s_pointers =
        Enum.GetValues<AddressSpace>().Select(s => new IRType(TypeKind.Pointer, s)).ToArray();

    private IRType(TypeKind kind, AddressSpace space = AddressSpace.Generic)
    {
        Kind = kind;
        Space = space;
    }

    /// <summary>The kind of scalar.</summary>
    public TypeKind Kind { get; }

    /// <summary>For pointers, the address space; <see cref="AddressSpace.Generic"/> otherwise.</summary>
    public AddressSpace Space { get; }

#pragma warning disable CS1591 // self-describing singletons
    public static readonly IRType Void = new(TypeKind.Void);
    public static readonly IRType Bool = new(TypeKind.Bool);
    public static readonly IRType Int8 = new(TypeKind.Int8);
    public static readonly IRType Int16 = new(TypeKind.Int16);
    public static readonly IRType Int32 = new(TypeKind.Int32);
    public static readonly IRType Int64 = new(TypeKind.Int64);
    public static readonly IRType Float16 = new(TypeKind.Float16);
    public static readonly IRType BFloat16 = new(TypeKind.BFloat16);
    public static readonly IRType Float32 = new(TypeKind.Float32);
    public static readonly IRType Float64 = new(TypeKind.Float64);
#pragma warning restore CS1591

    /// <summary>The pointer type of <paramref name="space"/>.</summary>
    public static IRType Pointer(AddressSpace space) => s_pointers[(int)space];

    /// <summary>A generic pointer.</summary>
    public static IRType GenericPointer => s_pointers[(int)AddressSpace.Generic];

    /// <summary>Size in bytes when stored in memory (Bool: 1, Void: 0).</summary>
    public int Size => Kind switch
    {
        TypeKind.Void => 0,
        TypeKind.Bool or TypeKind.Int8 => 1,
        TypeKind.Int16 or TypeKind.Float16 or TypeKind.BFloat16 => 2,
        TypeKind.Int32 or TypeKind.Float32 => 4,
        _ => 8,
    };

    /// <summary>Int8…Int64 (not Bool).</summary>
    public bool IsInteger => Kind is TypeKind.Int8 or TypeKind.Int16 or TypeKind.Int32 or TypeKind.Int64;

    /// <summary>Float16, BFloat16, Float32, Float64.</summary>
    public bool IsFloat => Kind is TypeKind.Float16 or TypeKind.BFloat16 or TypeKind.Float32 or TypeKind.Float64;

    /// <summary>A pointer of any space.</summary>
    public bool IsPointer => Kind == TypeKind.Pointer;

    /// <summary>The integer type of <paramref name="bytes"/> bytes.</summary>
    public static IRType IntegerOfSize(int bytes) => bytes switch
    {
        1 => Int8, 2 => Int16, 4 => Int32, 8 => Int64,
        _ => throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "Integer sizes are 1, 2, 4 or 8 bytes."),
    };

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        TypeKind.Void => "void",
        TypeKind.Bool => "i1",
        TypeKind.Int8 => "i8",
        TypeKind.Int16 => "i16",
        TypeKind.Int32 => "i32",
        TypeKind.Int64 => "i64",
        TypeKind.Float16 => "f16",
        TypeKind.BFloat16 => "bf16",
        TypeKind.Float32 => "f32",
        TypeKind.Float64 => "f64",
        _ => Space == AddressSpace.Generic ? "ptr" : "ptr." + Space.ToString().ToLowerInvariant(),
    };
}
