using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Interpreter;

/// <summary>
/// How the interpreter keeps every IR scalar in one <see cref="long"/> register. Integers are
/// sign-extended from their width (as <see cref="Constant.Bits"/>), Bool is 0 or 1, pointers and i64 are
/// the raw 64 bits; floats keep their IEEE bit pattern sign-extended like the integer of the same size
/// (f32 as i32, f64 as i64, f16 and bf16 as i16), so BitCast is a plain copy.
/// </summary>
internal static class RegisterEncoding
{
    /// <summary>Truncates <paramref name="value"/> to the width of <paramref name="kind"/> and sign-extends it (Bool: low bit).</summary>
    public static long Normalize(TypeKind kind, long value) => kind switch
    {
        TypeKind.Bool => value & 1,
        TypeKind.Int8 => (sbyte)value,
        TypeKind.Int16 or TypeKind.Float16 or TypeKind.BFloat16 => (short)value,
        TypeKind.Int32 or TypeKind.Float32 => (int)value,
        _ => value,
    };

    /// <summary>The register's value read as an unsigned integer of the type's width.</summary>
    public static ulong ZeroExtend(TypeKind kind, long value) => kind switch
    {
        TypeKind.Bool => (ulong)(value & 1),
        TypeKind.Int8 => (byte)value,
        TypeKind.Int16 or TypeKind.Float16 or TypeKind.BFloat16 => (ushort)value,
        TypeKind.Int32 or TypeKind.Float32 => (uint)value,
        _ => (ulong)value,
    };

#pragma warning disable CS1591 // one-line encoders
    public static float F32(long r) => BitConverter.Int32BitsToSingle((int)r);
    public static long FromF32(float value) => BitConverter.SingleToInt32Bits(value);
    public static double F64(long r) => BitConverter.Int64BitsToDouble(r);
    public static long FromF64(double value) => BitConverter.DoubleToInt64Bits(value);
    public static Half F16(long r) => BitConverter.Int16BitsToHalf((short)r);
    public static long FromF16(Half value) => BitConverter.HalfToInt16Bits(value);
    public static float BF16(long r) => BFloat16.FromRawValue((ushort)r);
    public static long FromBF16(float value) => (short)((BFloat16)value).RawValue;
#pragma warning restore CS1591

    /// <summary>A float register of <paramref name="kind"/> widened exactly to double.</summary>
    public static double ToDouble(TypeKind kind, long r) => kind switch
    {
        TypeKind.Float32 => F32(r),
        TypeKind.Float64 => F64(r),
        TypeKind.Float16 => (double)F16(r),
        TypeKind.BFloat16 => BF16(r),
        _ => throw new InvalidOperationException($"{kind} is not a float type."),
    };

    /// <summary>Rounds <paramref name="value"/> to a float register of <paramref name="kind"/>.</summary>
    public static long FromDouble(TypeKind kind, double value) => kind switch
    {
        TypeKind.Float32 => FromF32((float)value),
        TypeKind.Float64 => FromF64(value),
        TypeKind.Float16 => FromF16((Half)value),
        TypeKind.BFloat16 => FromBF16((float)value),
        _ => throw new InvalidOperationException($"{kind} is not a float type."),
    };

    /// <summary>The register holding constant <paramref name="constant"/>.</summary>
    public static long Encode(Constant constant)
        => constant.Type.IsFloat ? FromDouble(constant.Type.Kind, constant.Float) : constant.Bits;

    /// <summary>The register for a host value passed as a parameter of <paramref name="type"/>.</summary>
    /// <exception cref="ArgumentException">The value cannot be a scalar of that type.</exception>
    public static unsafe long Encode(IRType type, object value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value is System.Reflection.Pointer pointer) return (long)System.Reflection.Pointer.Unbox(pointer);
        if (type.IsFloat)
        {
            return value switch
            {
                float f when type.Kind == TypeKind.Float32 => FromF32(f),
                double d when type.Kind == TypeKind.Float64 => FromF64(d),
                Half h when type.Kind == TypeKind.Float16 => FromF16(h),
                BFloat16 b when type.Kind == TypeKind.BFloat16 => (short)b.RawValue,
                float or double or Half or BFloat16 => throw new ArgumentException($"A {value.GetType().Name} cannot be passed as {type}."),
                _ => FromDouble(type.Kind, Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture)),
            };
        }
        long bits = value switch
        {
            bool b => b ? 1 : 0,
            sbyte v => v,
            byte v => v,
            short v => v,
            ushort v => v,
            char v => v,
            int v => v,
            uint v => v,
            long v => v,
            ulong v => (long)v,
            nint v => v,
            nuint v => (long)v,
            float v => BitConverter.SingleToInt32Bits(v),
            double v => BitConverter.DoubleToInt64Bits(v),
            Half v => BitConverter.HalfToInt16Bits(v),
            BFloat16 v => (short)v.RawValue,
            _ => throw new ArgumentException($"A {value.GetType().Name} cannot be passed as {type}."),
        };
        return Normalize(type.Kind, bits);
    }
}
