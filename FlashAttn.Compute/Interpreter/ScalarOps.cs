using FlashAttn.Compute.IR;
using static FlashAttn.Compute.Interpreter.RegisterEncoding;

namespace FlashAttn.Compute.Interpreter;

/// <summary>
/// Arithmetic, comparison and conversion of registers (see <see cref="RegisterEncoding"/>) with C#
/// semantics: integers wrap, shift counts are masked to the width (as C# does after promotion for
/// i8/i16), signed division by zero throws; floats compute in their own precision (f32 in float, f16 and
/// bf16 through float with one rounding to the type).
/// </summary>
internal static class ScalarOps
{
    /// <summary>The function of a binary arithmetic or bitwise opcode on registers of <paramref name="kind"/>.</summary>
    public static Func<long, long, long> Binary(Opcode op, TypeKind kind)
    {
        if (kind is TypeKind.Float32)
        {
            Func<float, float, float> f = op switch
            {
                Opcode.Add => (a, b) => a + b,
                Opcode.Sub => (a, b) => a - b,
                Opcode.Mul => (a, b) => a * b,
                Opcode.Div => (a, b) => a / b,
                Opcode.Rem => (a, b) => a % b,
                _ => throw Unsupported(op, kind),
            };
            return (a, b) => FromF32(f(F32(a), F32(b)));
        }
        if (kind is TypeKind.Float64)
        {
            Func<double, double, double> f = op switch
            {
                Opcode.Add => (a, b) => a + b,
                Opcode.Sub => (a, b) => a - b,
                Opcode.Mul => (a, b) => a * b,
                Opcode.Div => (a, b) => a / b,
                Opcode.Rem => (a, b) => a % b,
                _ => throw Unsupported(op, kind),
            };
            return (a, b) => FromF64(f(F64(a), F64(b)));
        }
        if (kind is TypeKind.Float16 or TypeKind.BFloat16)
        {
            var wide = Binary(op, TypeKind.Float32);
            return kind == TypeKind.Float16
                ? (a, b) => FromF16((Half)F32(wide(FromF32((float)F16(a)), FromF32((float)F16(b)))))
                : (a, b) => FromBF16(F32(wide(FromF32(BF16(a)), FromF32(BF16(b)))));
        }
        if (kind == TypeKind.Bool)
        {
            return op switch
            {
                Opcode.And => (a, b) => a & b,
                Opcode.Or => (a, b) => a | b,
                Opcode.Xor => (a, b) => a ^ b,
                _ => throw Unsupported(op, kind),
            };
        }
        if (kind == TypeKind.Int64 || kind == TypeKind.Pointer)
        {
            return op switch
            {
                Opcode.Add => (a, b) => a + b,
                Opcode.Sub => (a, b) => a - b,
                Opcode.Mul => (a, b) => a * b,
                Opcode.Div => (a, b) => a / b,
                Opcode.DivUn => (a, b) => (long)((ulong)a / (ulong)b),
                Opcode.Rem => (a, b) => a % b,
                Opcode.RemUn => (a, b) => (long)((ulong)a % (ulong)b),
                Opcode.And => (a, b) => a & b,
                Opcode.Or => (a, b) => a | b,
                Opcode.Xor => (a, b) => a ^ b,
                Opcode.Shl => (a, b) => a << (int)b,
                Opcode.Shr => (a, b) => a >> (int)b,
                Opcode.ShrUn => (a, b) => (long)((ulong)a >> (int)b),
                _ => throw Unsupported(op, kind),
            };
        }
        if (kind == TypeKind.Int32)
        {
            return op switch
            {
                Opcode.Add => (a, b) => (int)a + (int)b,
                Opcode.Sub => (a, b) => (int)a - (int)b,
                Opcode.Mul => (a, b) => (int)a * (int)b,
                Opcode.Div => (a, b) => (int)a / (int)b,
                Opcode.DivUn => (a, b) => (int)((uint)a / (uint)b),
                Opcode.Rem => (a, b) => (int)a % (int)b,
                Opcode.RemUn => (a, b) => (int)((uint)a % (uint)b),
                Opcode.And => (a, b) => a & b,
                Opcode.Or => (a, b) => a | b,
                Opcode.Xor => (a, b) => a ^ b,
                Opcode.Shl => (a, b) => (int)a << (int)b,
                Opcode.Shr => (a, b) => (int)a >> (int)b,
                Opcode.ShrUn => (a, b) => (int)((uint)a >> (int)b),
                _ => throw Unsupported(op, kind),
            };
        }
        if (kind is TypeKind.Int8 or TypeKind.Int16)
        {
            // C# promotes to int: compute there, then truncate to the width.
            Func<long, long, long> f = op switch
            {
                Opcode.Add => (a, b) => a + b,
                Opcode.Sub => (a, b) => a - b,
                Opcode.Mul => (a, b) => a * b,
                Opcode.Div => (a, b) => a / b,
                Opcode.DivUn => (a, b) => (long)(ZeroExtend(kind, a) / ZeroExtend(kind, b)),
                Opcode.Rem => (a, b) => a % b,
                Opcode.RemUn => (a, b) => (long)(ZeroExtend(kind, a) % ZeroExtend(kind, b)),
                Opcode.And => (a, b) => a & b,
                Opcode.Or => (a, b) => a | b,
                Opcode.Xor => (a, b) => a ^ b,
                Opcode.Shl => (a, b) => (int)a << (int)b,
                Opcode.Shr => (a, b) => (int)a >> (int)b,
                Opcode.ShrUn => (a, b) => (long)(ZeroExtend(kind, a) >> ((int)b & 31)),
                _ => throw Unsupported(op, kind),
            };
            return (a, b) => Normalize(kind, f(a, b));
        }
        throw Unsupported(op, kind);
    }

    /// <summary>Neg or Not on registers of <paramref name="kind"/>.</summary>
    public static Func<long, long> Unary(Opcode op, TypeKind kind) => (op, kind) switch
    {
        (Opcode.Not, TypeKind.Bool) => a => a ^ 1,
        (Opcode.Not, _) when kind is TypeKind.Int8 or TypeKind.Int16 or TypeKind.Int32 or TypeKind.Int64 => a => ~a,
        (Opcode.Neg, TypeKind.Float32) => a => FromF32(-F32(a)),
        (Opcode.Neg, TypeKind.Float64) => a => FromF64(-F64(a)),
        (Opcode.Neg, TypeKind.Float16) => a => FromF16(-F16(a)),
        (Opcode.Neg, TypeKind.BFloat16) => a => a ^ unchecked((short)0x8000),
        (Opcode.Neg, _) when kind is TypeKind.Int8 or TypeKind.Int16 or TypeKind.Int32 or TypeKind.Int64 => a => Normalize(kind, -a),
        _ => throw Unsupported(op, kind),
    };

    /// <summary>A comparison of two registers of <paramref name="kind"/>; 1 when it holds.</summary>
    public static Func<long, long, bool> Compare(CompareKind compare, TypeKind kind)
    {
        if (kind is TypeKind.Float16 or TypeKind.BFloat16 or TypeKind.Float32 or TypeKind.Float64)
        {
            // Widening to double is exact, so the comparison is the type's own.
            Func<double, double, bool> f = compare switch
            {
                CompareKind.Eq => (x, y) => x == y,
                CompareKind.Ne => (x, y) => !(x == y),
                CompareKind.Lt => (x, y) => x < y,
                CompareKind.Le => (x, y) => x <= y,
                CompareKind.Gt => (x, y) => x > y,
                CompareKind.Ge => (x, y) => x >= y,
                CompareKind.LtUn => (x, y) => !(x >= y),
                CompareKind.LeUn => (x, y) => !(x > y),
                CompareKind.GtUn => (x, y) => !(x <= y),
                CompareKind.GeUn => (x, y) => !(x < y),
                _ => throw new InvalidOperationException($"IR interpreter: unknown comparison {compare}."),
            };
            return kind switch
            {
                TypeKind.Float32 => (a, b) => f(F32(a), F32(b)),
                TypeKind.Float64 => (a, b) => f(F64(a), F64(b)),
                _ => (a, b) => f(ToDouble(kind, a), ToDouble(kind, b)),
            };
        }
        return compare switch
        {
            CompareKind.Eq => (a, b) => a == b,
            CompareKind.Ne => (a, b) => a != b,
            CompareKind.Lt => (a, b) => a < b,
            CompareKind.Le => (a, b) => a <= b,
            CompareKind.Gt => (a, b) => a > b,
            CompareKind.Ge => (a, b) => a >= b,
            CompareKind.LtUn => (a, b) => ZeroExtend(kind, a) < ZeroExtend(kind, b),
            CompareKind.LeUn => (a, b) => ZeroExtend(kind, a) <= ZeroExtend(kind, b),
            CompareKind.GtUn => (a, b) => ZeroExtend(kind, a) > ZeroExtend(kind, b),
            CompareKind.GeUn => (a, b) => ZeroExtend(kind, a) >= ZeroExtend(kind, b),
            _ => throw new InvalidOperationException($"IR interpreter: unknown comparison {compare}."),
        };
    }

    /// <summary>Convert from <paramref name="from"/> to <paramref name="to"/> (see <see cref="Opcode.Convert"/>).</summary>
    public static Func<long, long> Convert(TypeKind from, TypeKind to, bool unsigned)
    {
        bool fromFloat = from is TypeKind.Float16 or TypeKind.BFloat16 or TypeKind.Float32 or TypeKind.Float64;
        bool toFloat = to is TypeKind.Float16 or TypeKind.BFloat16 or TypeKind.Float32 or TypeKind.Float64;
        if (!fromFloat && !toFloat)
        {
            if (to == TypeKind.Bool) return a => a != 0 ? 1 : 0;
            return unsigned ? a => Normalize(to, (long)ZeroExtend(from, a)) : a => Normalize(to, a);
        }
        if (!fromFloat)
        {
            // int → float: one rounding from the exact integer.
            return (to, unsigned) switch
            {
                (TypeKind.Float32, false) => a => FromF32(a),
                (TypeKind.Float32, true) => a => FromF32(ZeroExtend(from, a)),
                (TypeKind.Float64, false) => a => FromF64(a),
                (TypeKind.Float64, true) => a => FromF64(ZeroExtend(from, a)),
                (TypeKind.Float16, false) => a => FromF16((Half)a),
                (TypeKind.Float16, true) => a => FromF16((Half)ZeroExtend(from, a)),
                (_, false) => a => FromBF16(a),
                (_, true) => a => FromBF16(ZeroExtend(from, a)),
            };
        }
        if (!toFloat)
        {
            // float → int: truncation toward zero with C#'s (saturating) casts.
            Func<double, long> f = (to, unsigned) switch
            {
                (TypeKind.Bool, _) => x => x != 0 ? 1 : 0,
                (TypeKind.Int8, false) => x => (sbyte)x,
                (TypeKind.Int8, true) => x => (sbyte)(byte)x,
                (TypeKind.Int16, false) => x => (short)x,
                (TypeKind.Int16, true) => x => (short)(ushort)x,
                (TypeKind.Int32, false) => x => (int)x,
                (TypeKind.Int32, true) => x => (int)(uint)x,
                (_, false) => x => (long)x,
                (_, true) => x => (long)(ulong)x,
            };
            if (from == TypeKind.Float32)
            {
                // Keep float's own cast semantics (identical to casting its exact double).
                return a => f(F32(a));
            }
            return a => f(ToDouble(from, a));
        }
        if (from == to) return a => a;
        if (from == TypeKind.Float64 && to == TypeKind.BFloat16) return a => FromBF16((float)F64(a));
        return a => FromDouble(to, ToDouble(from, a));
    }

    /// <summary>The error for an operation the interpreter does not know for a type.</summary>
    public static InvalidOperationException Unsupported(object op, TypeKind kind)
        => new($"IR interpreter: unsupported operation {op} on {kind}.");
}
