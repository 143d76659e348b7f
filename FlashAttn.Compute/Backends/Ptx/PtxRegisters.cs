using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Backends.Ptx;

/// <summary>The virtual register classes the backend declares, one per PTX register type.</summary>
internal enum PtxRegisterClass
{
    /// <summary><c>%p</c>: <c>.pred</c>, for Bool.</summary>
    Pred,
    /// <summary><c>%rs</c>: <c>.b16</c>, for i8 and i16 (an i8 lives in the low 8 bits; the high 8 bits are unspecified).</summary>
    B16,
    /// <summary><c>%h</c>: <c>.b16</c>, for f16 and bf16.</summary>
    Half,
    /// <summary><c>%r</c>: <c>.b32</c>, for i32.</summary>
    B32,
    /// <summary><c>%rd</c>: <c>.b64</c>, for i64 and pointers.</summary>
    B64,
    /// <summary><c>%f</c>: <c>.f32</c>.</summary>
    F32,
    /// <summary><c>%fd</c>: <c>.f64</c>.</summary>
    F64,
}

/// <summary>Names and PTX types of the register classes.</summary>
internal static class PtxRegisters
{
    /// <summary>Every class, in declaration order.</summary>
    public static readonly PtxRegisterClass[] All = Enum.GetValues<PtxRegisterClass>();

    /// <summary>The register name prefix, e.g. <c>%rd</c>.</summary>
    public static string Prefix(PtxRegisterClass c) => c switch
    {
        PtxRegisterClass.Pred => "%p",
        PtxRegisterClass.B16 => "%rs",
        PtxRegisterClass.Half => "%h",
        PtxRegisterClass.B32 => "%r",
        PtxRegisterClass.B64 => "%rd",
        PtxRegisterClass.F32 => "%f",
        _ => "%fd",
    };

    /// <summary>The type in the <c>.reg</c> declaration.</summary>
    public static string DeclarationType(PtxRegisterClass c) => c switch
    {
        PtxRegisterClass.Pred => ".pred",
        PtxRegisterClass.B16 or PtxRegisterClass.Half => ".b16",
        PtxRegisterClass.B32 => ".b32",
        PtxRegisterClass.B64 => ".b64",
        PtxRegisterClass.F32 => ".f32",
        _ => ".f64",
    };

    /// <summary>The type suffix of a register-to-register <c>mov</c>.</summary>
    public static string MoveType(PtxRegisterClass c) => DeclarationType(c);

    /// <summary>Whether values of <paramref name="type"/> live in a register (<see cref="ClassOf"/> has a class for them).</summary>
    public static bool HasClass(IRType type) => type.Kind is TypeKind.Bool or TypeKind.Int8 or TypeKind.Int16 or TypeKind.Float16
        or TypeKind.BFloat16 or TypeKind.Int32 or TypeKind.Int64 or TypeKind.Pointer or TypeKind.Float32 or TypeKind.Float64;

    /// <summary>The class holding values of <paramref name="type"/>.</summary>
    public static PtxRegisterClass ClassOf(IRType type) => type.Kind switch
    {
        TypeKind.Bool => PtxRegisterClass.Pred,
        TypeKind.Int8 or TypeKind.Int16 => PtxRegisterClass.B16,
        TypeKind.Float16 or TypeKind.BFloat16 => PtxRegisterClass.Half,
        TypeKind.Int32 => PtxRegisterClass.B32,
        TypeKind.Int64 or TypeKind.Pointer => PtxRegisterClass.B64,
        TypeKind.Float32 => PtxRegisterClass.F32,
        TypeKind.Float64 => PtxRegisterClass.F64,
        _ => throw new CompilationException($"PTX backend: a value of type {type} has no register."),
    };
}
