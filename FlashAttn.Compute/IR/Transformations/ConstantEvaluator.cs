namespace FlashAttn.Compute.IR.Transformations;

/// <summary>
/// Evaluates one operation on constant operands with C#'s semantics for the operand type: integer
/// wraparound, signed/unsigned division, shift counts masked as in C#, float arithmetic in the type's
/// precision, float→int conversions truncating and saturating as .NET 9+ does (NaN → 0; 8/16-bit targets
/// saturate to Int32 and then wrap, which differs from PTX's cvt.rzi only for out-of-range values).
/// Returns null where the result is not a compile-time fact (division by zero, overflow traps, unknown ops).
/// </summary>
public static class ConstantEvaluator
{
    /// <summary>The result of <paramref name="instruction"/>'s operation applied to <paramref name="operands"/>, or null.</summary>
    public static Constant? Evaluate(Instruction instruction, IReadOnlyList<Constant> operands)
    {
        var type = instruction.Type;
        switch (instruction.Op)
        {
            case Opcode.Add or Opcode.Sub or Opcode.Mul or Opcode.Div or Opcode.DivUn or Opcode.Rem or Opcode.RemUn
                or Opcode.And or Opcode.Or or Opcode.Xor or Opcode.Shl or Opcode.Shr or Opcode.ShrUn:
                return Binary(instruction.Op, type, operands[0], operands[1]);
            case Opcode.Neg:
                if (type.IsFloat) return Constant.FloatOf(type, RoundTo(type, -operands[0].Float));
                if (type.IsInteger) return Constant.Int(type, unchecked(-operands[0].Bits));
                return null;
            case Opcode.Not:
                if (type == IRType.Bool) return Constant.Bool(operands[0].Bits == 0);
                if (type.IsInteger) return Constant.Int(type, ~operands[0].Bits);
                return null;
            case Opcode.Cmp:
                return Compare(instruction.Compare, operands[0], operands[1]) is { } b ? Constant.Bool(b) : null;
            case Opcode.Select:
                return operands[0].Bits != 0 ? operands[1] : operands[2];
            case Opcode.Convert:
                return Convert(type, operands[0], instruction.Unsigned);
            case Opcode.PtrAdd when type.IsPointer:
                return Constant.Int(type, unchecked(operands[0].Bits + operands[1].Bits));
            default:
                return null;
        }
    }

    private static ulong Mask(IRType type) => type.Size >= 8 ? ulong.MaxValue : (1UL << (type.Size * 8)) - 1;

    private static ulong Unsigned(Constant c) => (ulong)c.Bits & Mask(c.Type);

    private static long MinValue(IRType type) => type.Size >= 8 ? long.MinValue : -(1L << (type.Size * 8 - 1));

    /// <summary>Rounds a double to the precision of a float type.</summary>
    private static double RoundTo(IRType type, double value) => Constant.FloatOf(type, value).Float;

    private static Constant? Binary(Opcode op, IRType type, Constant a, Constant b)
    {
        if (type.IsFloat)
        {
            if (type == IRType.Float64)
            {
                double x = a.Float, y = b.Float;
                double? r = op switch
                {
                    Opcode.Add => x + y, Opcode.Sub => x - y, Opcode.Mul => x * y, Opcode.Div => x / y, Opcode.Rem => x % y,
                    _ => null,
                };
                return r is { } d ? Constant.FloatOf(type, d) : null;
            }
            // f32 arithmetic; f16/bf16 compute in float and round (as System.Half's operators do).
            float fx = (float)a.Float, fy = (float)b.Float;
            float? fr = op switch
            {
                Opcode.Add => fx + fy, Opcode.Sub => fx - fy, Opcode.Mul => fx * fy, Opcode.Div => fx / fy, Opcode.Rem => fx % fy,
                _ => null,
            };
            return fr is { } f ? Constant.FloatOf(type, f) : null;
        }
        if (!type.IsInteger && type != IRType.Bool) return null;
        long sa = a.Bits, sb = b.Bits;
        ulong ua = Unsigned(a), ub = Unsigned(b);
        int bits = type == IRType.Bool ? 1 : type.Size * 8;
        int shiftMask = bits > 32 ? 63 : 31;
        switch (op)
        {
            case Opcode.Add: return Constant.Int(type, unchecked(sa + sb));
            case Opcode.Sub: return Constant.Int(type, unchecked(sa - sb));
            case Opcode.Mul: return Constant.Int(type, unchecked(sa * sb));
            case Opcode.And: return Constant.Int(type, sa & sb);
            case Opcode.Or: return Constant.Int(type, sa | sb);
            case Opcode.Xor: return Constant.Int(type, sa ^ sb);
            case Opcode.Div or Opcode.Rem:
                if (sb == 0 || (sa == MinValue(type) && sb == -1)) return null; // traps in C#
                return Constant.Int(type, op == Opcode.Div ? sa / sb : sa % sb);
            case Opcode.DivUn or Opcode.RemUn:
                if (ub == 0) return null;
                return Constant.Int(type, unchecked((long)(op == Opcode.DivUn ? ua / ub : ua % ub)));
            case Opcode.Shl: return Constant.Int(type, sa << (int)(sb & shiftMask));
            case Opcode.Shr: return Constant.Int(type, sa >> (int)(sb & shiftMask));
            case Opcode.ShrUn: return Constant.Int(type, unchecked((long)(ua >> (int)(sb & shiftMask))));
            default: return null;
        }
    }

    /// <summary>The comparison's outcome (null for unsupported operand types).</summary>
    public static bool? Compare(CompareKind kind, Constant a, Constant b)
    {
        if (a.Type.IsFloat)
        {
            double x = a.Float, y = b.Float;
            return kind switch
            {
                CompareKind.Eq => x == y,
                CompareKind.Ne => x != y,
                CompareKind.Lt => x < y,
                CompareKind.Le => x <= y,
                CompareKind.Gt => x > y,
                CompareKind.Ge => x >= y,
                CompareKind.LtUn => !(x >= y),
                CompareKind.LeUn => !(x > y),
                CompareKind.GtUn => !(x <= y),
                CompareKind.GeUn => !(x < y),
                _ => null,
            };
        }
        long sa = a.Bits, sb = b.Bits;
        ulong ua = Unsigned(a), ub = Unsigned(b);
        return kind switch
        {
            CompareKind.Eq => sa == sb,
            CompareKind.Ne => sa != sb,
            CompareKind.Lt => sa < sb,
            CompareKind.Le => sa <= sb,
            CompareKind.Gt => sa > sb,
            CompareKind.Ge => sa >= sb,
            CompareKind.LtUn => ua < ub,
            CompareKind.LeUn => ua <= ub,
            CompareKind.GtUn => ua > ub,
            CompareKind.GeUn => ua >= ub,
            _ => null,
        };
    }

    private static Constant? Convert(IRType target, Constant value, bool unsigned)
    {
        var source = value.Type;
        if (target.IsPointer || source.IsPointer || target == IRType.Bool || target.Kind == TypeKind.Void) return null;
        if (source.IsInteger || source == IRType.Bool)
        {
            long signedValue = value.Bits;
            ulong unsignedValue = Unsigned(value);
            if (target.IsInteger)
                return Constant.Int(target, unsigned ? unchecked((long)unsignedValue) : signedValue);
            double d = target == IRType.Float64
                ? (unsigned ? (double)unsignedValue : signedValue)
                : (unsigned ? (float)unsignedValue : (float)signedValue);
            return Constant.FloatOf(target, d);
        }
        if (source.IsFloat)
        {
            double d = value.Float;
            if (target.IsFloat) return Constant.FloatOf(target, d);
            if (double.IsNaN(d)) return Constant.Int(target, 0);
            double t = Math.Truncate(d);
            // .NET saturates to Int32 for 8/16-bit targets (signed or not), then truncates (conv.i1/u1/i2/u2).
            int bits = Math.Max(32, target.Size * 8);
            if (unsigned && target.Size >= 4)
            {
                if (t <= 0) return Constant.Int(target, 0);
                double max = bits == 64 ? 18446744073709551615.0 : Math.Pow(2, bits) - 1;
                if (t >= max) return Constant.Int(target, bits == 64 ? -1 : (long)max);
                return Constant.Int(target, unchecked((long)(ulong)t));
            }
            double lo = bits == 64 ? long.MinValue : -Math.Pow(2, bits - 1);
            double hi = bits == 64 ? long.MaxValue : Math.Pow(2, bits - 1) - 1;
            if (t <= lo) return Constant.Int(target, (long)lo);
            if (t >= hi) return Constant.Int(target, bits == 64 ? long.MaxValue : (long)hi);
            return Constant.Int(target, (long)t);
        }
        return null;
    }
}
