using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Backends.Ptx;

/// <summary>
/// Writes the PTX of one non-terminator, non-phi instruction. Integer signedness comes from the opcode
/// (<c>Div</c>/<c>DivUn</c>, <see cref="CompareKind"/>, <see cref="Instruction.Unsigned"/>). f16/bf16
/// arithmetic and comparisons are done in f32 and rounded back (what .NET's Half operators do). An i8
/// lives in the low 8 bits of a 16-bit register; the high bits are unspecified, so every consumer that
/// reads them (division, right shift, comparison, widening, conversion) extends the value first.
/// </summary>
internal sealed class PtxInstructionEmitter
{
    private readonly PtxCodeBuilder b;
    private readonly PtxIntrinsics _intrinsics;

    /// <summary>Creates the emitter writing into <paramref name="builder"/>.</summary>
    public PtxInstructionEmitter(PtxCodeBuilder builder)
    {
        b = builder;
        _intrinsics = new PtxIntrinsics(builder, this);
    }

    /// <summary>Writes <paramref name="i"/>.</summary>
    public void Emit(Instruction i)
    {
        switch (i.Op)
        {
            case Opcode.Add or Opcode.Sub or Opcode.Mul or Opcode.Div or Opcode.DivUn or Opcode.Rem or Opcode.RemUn
                or Opcode.And or Opcode.Or or Opcode.Xor or Opcode.Shl or Opcode.Shr or Opcode.ShrUn:
                Binary(i);
                break;
            case Opcode.Neg or Opcode.Not:
                Unary(i);
                break;
            case Opcode.Cmp:
                Compare(b.Def(i), i.Compare, i.Operands[0], i.Operands[1]);
                break;
            case Opcode.Select:
                Select(i);
                break;
            case Opcode.Convert:
                Convert(b.Def(i), i.Operands[0], i.Type, i.Unsigned);
                break;
            case Opcode.Alloca:
                LocalArray(i, i.AllocaSize, i.Alignment);
                break;
            case Opcode.Load:
                Load(i);
                break;
            case Opcode.Store:
                Store(i);
                break;
            case Opcode.PtrAdd:
                b.Emit($"add.s64 {b.Def(i)}, {b.Reg(i.Operands[0])}, {b.Src(i.Operands[1])}");
                break;
            case Opcode.PtrToInt or Opcode.IntToPtr:
                b.Emit($"mov.b64 {b.Def(i)}, {b.Src(i.Operands[0])}");
                break;
            case Opcode.AddrSpaceCast:
                AddrSpaceCast(b.Def(i), b.Reg(i.Operands[0]), i.Operands[0].Type.Space, i.Type.Space);
                break;
            case Opcode.Intrinsic:
                _intrinsics.Emit(i);
                break;
            case Opcode.Extract:
                // The aggregate wrote straight into the register of the first Extract of each component.
                if (b.ComponentExtract((Instruction)i.Operands[0], i.Index) is { } first && first != i)
                    b.Emit($"mov{PtxRegisters.MoveType(PtxRegisters.ClassOf(i.Type))} {b.Def(i)}, {b.Def(first)}");
                break;
            case Opcode.Call:
                throw b.Error($"call of {i.Callee?.Name} reached code generation (calls must be inlined first)");
            default:
                throw b.Error($"opcode {i.Op} is not lowered here");
        }
    }

    // ---- type helpers ------------------------------------------------------------------------------

    /// <summary>Bit width of an integer type as PTX sees it (i8 → 8, pointers → 64).</summary>
    public static int IntBits(IRType t) => t.Kind switch
    {
        TypeKind.Int8 => 8,
        TypeKind.Int16 => 16,
        TypeKind.Int32 => 32,
        TypeKind.Int64 or TypeKind.Pointer => 64,
        _ => throw new CompilationException($"PTX backend: {t} is not an integer type."),
    };

    /// <summary>Width of the register holding an integer type (i8 → 16).</summary>
    public static int RegBits(IRType t) => Math.Max(16, IntBits(t));

    /// <summary>.s32/.u32 etc. for arithmetic on the register width.</summary>
    public static string IntType(IRType t, bool signed) => (signed ? ".s" : ".u") + RegBits(t);

    /// <summary>.b16/.b32/.b64/.f32/.f64/.pred for moves and selects.</summary>
    public static string BitType(IRType t) => t.Kind switch
    {
        TypeKind.Bool => ".pred",
        TypeKind.Float32 => ".f32",
        TypeKind.Float64 => ".f64",
        TypeKind.Float16 or TypeKind.BFloat16 => ".b16",
        _ => ".b" + RegBits(t),
    };

    /// <summary>True for f16 and bf16 (computed in f32).</summary>
    public static bool IsHalf(IRType t) => t.Kind is TypeKind.Float16 or TypeKind.BFloat16;

    /// <summary>
    /// An integer operand whose register bits above the type are meaningful: an i8 is sign- or
    /// zero-extended to 16 bits first. Constants become immediates.
    /// </summary>
    public string IntOperand(Value v, bool signed)
    {
        if (v.Type.Kind != TypeKind.Int8) return b.Src(v);
        if (v is Constant c) return (signed ? c.Bits : c.Bits & 0xFF).ToString(System.Globalization.CultureInfo.InvariantCulture);
        string t = b.Temp(PtxRegisterClass.B16);
        b.Emit($"cvt{(signed ? ".s16.s8" : ".u16.u8")} {t}, {b.Reg(v)}");
        return t;
    }

    /// <summary>The value as an f32 operand (f16/bf16 widened exactly; f16/bf16 constants folded).</summary>
    public string F32Operand(Value v)
    {
        if (v.Type.Kind == TypeKind.Float32) return b.Src(v);
        if (v is Constant c && c.Type.IsFloat) return PtxCodeBuilder.F32(c.Float);
        string t = b.Temp(PtxRegisterClass.F32);
        Convert(t, v, IRType.Float32, false);
        return t;
    }

    /// <summary>Rounds the f32 register <paramref name="f32"/> to <paramref name="kind"/> (f16 or bf16) into <paramref name="d"/>.</summary>
    public void NarrowFromF32(string d, string f32, TypeKind kind)
    {
        if (kind == TypeKind.Float16)
            b.Emit($"cvt.rn.f16.f32 {d}, {f32}");
        else
        {
            if (b.Target.SmVersion < 80) throw b.Error("conversion to bfloat16 needs sm_80 or newer (cvt.rn.bf16.f32)");
            b.Emit($"cvt.rn.bf16.f32 {d}, {f32}");
        }
    }

    private string FloatRounding => b.Options.AllowFloatContraction ? "" : ".rn";

    // ---- arithmetic --------------------------------------------------------------------------------

    private void Binary(Instruction i)
    {
        var t = i.Type;
        string d = b.Def(i);
        Value x = i.Operands[0], y = i.Operands[1];
        if (t.Kind == TypeKind.Bool)
        {
            string op = i.Op switch
            {
                Opcode.And => "and",
                Opcode.Or => "or",
                Opcode.Xor => "xor",
                _ => throw b.Error($"{i.Op} on Bool"),
            };
            b.Emit($"{op}.pred {d}, {b.Reg(x)}, {b.Reg(y)}");
            return;
        }
        if (t.IsFloat)
        {
            if (IsHalf(t))
            {
                string r = b.Temp(PtxRegisterClass.F32);
                FloatBinary(i.Op, ".f32", r, F32Operand(x), F32Operand(y));
                NarrowFromF32(d, r, t.Kind);
            }
            else
            {
                string ft = t.Kind == TypeKind.Float32 ? ".f32" : ".f64";
                FloatBinary(i.Op, ft, d, b.Reg(x), b.Src(y));
            }
            return;
        }
        if (!t.IsInteger) throw b.Error($"{i.Op} on {t}");
        switch (i.Op)
        {
            case Opcode.Add:
                b.Emit($"add{IntType(t, true)} {d}, {b.Reg(x)}, {b.Src(y)}");
                break;
            case Opcode.Sub:
                b.Emit($"sub{IntType(t, true)} {d}, {b.Reg(x)}, {b.Src(y)}");
                break;
            case Opcode.Mul:
                b.Emit($"mul.lo{IntType(t, true)} {d}, {b.Reg(x)}, {b.Src(y)}");
                break;
            case Opcode.Div or Opcode.DivUn or Opcode.Rem or Opcode.RemUn
                when IntBits(t) >= 32 && y is Constant divisor && PowerOfTwoExponent(divisor.Bits, IntBits(t)) is > 0 and var exponent:
                PowerOfTwoDivision(i.Op, t, d, b.Reg(x), exponent);
                break;
            case Opcode.Div or Opcode.DivUn or Opcode.Rem or Opcode.RemUn:
            {
                bool signed = i.Op is Opcode.Div or Opcode.Rem;
                string op = i.Op is Opcode.Div or Opcode.DivUn ? "div" : "rem";
                string a = t.Kind == TypeKind.Int8 ? IntOperand(x, signed) : b.Reg(x);
                if (a.Length > 0 && a[0] != '%') a = MaterializeImmediate(a, t);
                b.Emit($"{op}{IntType(t, signed)} {d}, {a}, {IntOperand(y, signed)}");
                break;
            }
            case Opcode.And or Opcode.Or or Opcode.Xor:
            {
                string op = i.Op switch { Opcode.And => "and", Opcode.Or => "or", _ => "xor" };
                b.Emit($"{op}.b{RegBits(t)} {d}, {b.Reg(x)}, {b.Src(y)}");
                break;
            }
            case Opcode.Shl or Opcode.Shr or Opcode.ShrUn:
            {
                string count = ShiftCount(y, IntBits(t) == 64 ? 63 : 31);
                if (i.Op == Opcode.Shl)
                    b.Emit($"shl.b{RegBits(t)} {d}, {b.Reg(x)}, {count}");
                else
                {
                    bool signed = i.Op == Opcode.Shr;
                    string a = t.Kind == TypeKind.Int8 ? IntOperand(x, signed) : b.Reg(x);
                    if (a.Length > 0 && a[0] != '%') a = MaterializeImmediate(a, t);
                    b.Emit($"shr{IntType(t, signed)} {d}, {a}, {count}");
                }
                break;
            }
            default:
                throw b.Error($"{i.Op} on {t}");
        }
    }

    private string MaterializeImmediate(string immediate, IRType t)
    {
        string r = b.Temp(PtxRegisters.ClassOf(t));
        b.Emit($"mov.b{RegBits(t)} {r}, {immediate}");
        return r;
    }

    /// <summary>k where <paramref name="value"/> = 2^k fits a signed <paramref name="bits"/>-bit integer, else −1.</summary>
    private static int PowerOfTwoExponent(long value, int bits)
        => value > 0 && (value & (value - 1)) == 0 && System.Numerics.BitOperations.Log2((ulong)value) < bits - 1
            ? System.Numerics.BitOperations.Log2((ulong)value) : -1;

    /// <summary>
    /// x / 2^k and x % 2^k as shifts and masks: ptxas turns <c>div.s32 x, 32</c> into its generic division (ncu showed
    /// IABS, a reciprocal and IMAD.HI per use in tile-staging loops). Signed: x + ((x >>ₛ (n−1)) >>ᵤ (n−k)) rounds
    /// toward zero like C#; the remainder keeps the dividend's sign.
    /// </summary>
    private void PowerOfTwoDivision(Opcode op, IRType t, string d, string x, int exponent)
    {
        int bits = IntBits(t);
        var regClass = bits == 64 ? PtxRegisterClass.B64 : PtxRegisterClass.B32;
        if (x.Length > 0 && x[0] != '%') x = MaterializeImmediate(x, t);
        long mask = (1L << exponent) - 1;
        if (op is Opcode.DivUn) { b.Emit($"shr.u{bits} {d}, {x}, {exponent}"); return; }
        if (op is Opcode.RemUn) { b.Emit($"and.b{bits} {d}, {x}, {mask}"); return; }
        string sign = b.Temp(regClass), bias = b.Temp(regClass), biased = b.Temp(regClass);
        b.Emit($"shr.s{bits} {sign}, {x}, {bits - 1}");
        b.Emit($"shr.u{bits} {bias}, {sign}, {bits - exponent}");
        b.Emit($"add.s{bits} {biased}, {x}, {bias}");
        if (op is Opcode.Div) { b.Emit($"shr.s{bits} {d}, {biased}, {exponent}"); return; }
        string truncated = b.Temp(regClass);
        b.Emit($"and.b{bits} {truncated}, {biased}, {~mask}");
        b.Emit($"sub.s{bits} {d}, {x}, {truncated}");
    }

    /// <summary>
    /// A shift count as PTX wants it (a .u32 operand), masked like C# (count &amp; 31, or &amp; 63 for
    /// 64-bit shifts; 8- and 16-bit shifts use 31 since C# shifts them as int).
    /// </summary>
    private string ShiftCount(Value count, int mask)
    {
        if (count is Constant c) return (c.Bits & mask).ToString(System.Globalization.CultureInfo.InvariantCulture);
        string r = b.Reg(count);
        int bits = IntBits(count.Type);
        string c32;
        if (bits == 32) c32 = r;
        else
        {
            c32 = b.Temp(PtxRegisterClass.B32);
            b.Emit($"cvt.u32.u{Math.Max(16, bits)} {c32}, {r}");
        }
        string masked = b.Temp(PtxRegisterClass.B32);
        b.Emit($"and.b32 {masked}, {c32}, {mask}");
        return masked;
    }

    /// <summary>Float add/sub/mul/div/rem of f32 or f64 operands into <paramref name="d"/>.</summary>
    private void FloatBinary(Opcode op, string ft, string d, string x, string y)
    {
        if (x.Length > 0 && x[0] != '%')
        {
            string r = b.Temp(ft == ".f32" ? PtxRegisterClass.F32 : PtxRegisterClass.F64);
            b.Emit($"mov{ft} {r}, {x}");
            x = r;
        }
        switch (op)
        {
            case Opcode.Add: b.Emit($"add{FloatRounding}{ft} {d}, {x}, {y}"); break;
            case Opcode.Sub: b.Emit($"sub{FloatRounding}{ft} {d}, {x}, {y}"); break;
            case Opcode.Mul: b.Emit($"mul{FloatRounding}{ft} {d}, {x}, {y}"); break;
            case Opcode.Div: b.Emit($"div.rn{ft} {d}, {x}, {y}"); break;
            case Opcode.Rem: FloatRem(ft, d, x, y); break;
            default: throw b.Error($"{op} on floats");
        }
    }

    /// <summary>
    /// C#'s float remainder (fmod: the sign of the dividend, |r| &lt; |y|) as x - trunc(x / y)·y with the
    /// product and difference fused (one rounding). Exact while |x / y| &lt; 2^24 (2^53 for f64) and the
    /// rounded quotient does not cross an integer; for huge quotients the result is approximate (CUDA's
    /// fmodf iterates instead). y = ±∞ with a finite x gives x; the result carries x's sign (so -4 % 2 is -0).
    /// </summary>
    private void FloatRem(string ft, string d, string x, string y)
    {
        var cls = ft == ".f32" ? PtxRegisterClass.F32 : PtxRegisterClass.F64;
        string q = b.Temp(cls), qt = b.Temp(cls), r = b.Temp(cls), ry = b.Temp(cls), rs = b.Temp(cls);
        string yReg = y;
        if (y.Length > 0 && y[0] != '%')
        {
            yReg = b.Temp(cls);
            b.Emit($"mov{ft} {yReg}, {y}");
        }
        b.Emit($"div.rn{ft} {q}, {x}, {yReg}");
        b.Emit($"cvt.rzi{ft}{ft} {qt}, {q}");
        b.Emit($"neg{ft} {qt}, {qt}");
        b.Emit($"fma.rn{ft} {r}, {qt}, {yReg}, {x}");
        b.Emit($"copysign{ft} {rs}, {x}, {r}");
        string yInf = b.Temp(PtxRegisterClass.Pred), xFinite = b.Temp(PtxRegisterClass.Pred);
        b.Emit($"testp.infinite{ft} {yInf}, {yReg}");
        b.Emit($"testp.finite{ft} {xFinite}, {x}");
        b.Emit($"and.pred {yInf}, {yInf}, {xFinite}");
        b.Emit($"selp{ft} {ry}, {x}, {rs}, {yInf}");
        b.Emit($"mov{ft} {d}, {ry}");
    }

    private void Unary(Instruction i)
    {
        var t = i.Type;
        string d = b.Def(i);
        Value x = i.Operands[0];
        if (i.Op == Opcode.Not)
        {
            if (t.Kind == TypeKind.Bool) b.Emit($"not.pred {d}, {b.Reg(x)}");
            else if (t.IsInteger) b.Emit($"not.b{RegBits(t)} {d}, {b.Reg(x)}");
            else throw b.Error($"Not on {t}");
            return;
        }
        if (IsHalf(t))
        {
            // Flip the sign bit (exact, as negation is).
            b.Emit($"xor.b16 {d}, {b.Reg(x)}, 0x8000");
            return;
        }
        if (t.Kind == TypeKind.Float32) b.Emit($"neg.f32 {d}, {b.Reg(x)}");
        else if (t.Kind == TypeKind.Float64) b.Emit($"neg.f64 {d}, {b.Reg(x)}");
        else if (t.IsInteger) b.Emit($"neg{IntType(t, true)} {d}, {b.Reg(x)}");
        else throw b.Error($"Neg on {t}");
    }

    // ---- comparison and selection ------------------------------------------------------------------

    /// <summary>setp for <paramref name="kind"/> into the predicate <paramref name="d"/>.</summary>
    public void Compare(string d, CompareKind kind, Value x, Value y)
    {
        var t = x.Type;
        if (t.Kind == TypeKind.Bool)
        {
            if (kind is CompareKind.Eq or CompareKind.Ne)
            {
                if (kind == CompareKind.Ne) b.Emit($"xor.pred {d}, {b.Reg(x)}, {b.Reg(y)}");
                else
                {
                    string tmp = b.Temp(PtxRegisterClass.Pred);
                    b.Emit($"xor.pred {tmp}, {b.Reg(x)}, {b.Reg(y)}");
                    b.Emit($"not.pred {d}, {tmp}");
                }
                return;
            }
            // Orderings of Bool: compare as 0/1 integers.
            string xi = b.Temp(PtxRegisterClass.B32), yi = b.Temp(PtxRegisterClass.B32);
            b.Emit($"selp.u32 {xi}, 1, 0, {b.Reg(x)}");
            b.Emit($"selp.u32 {yi}, 1, 0, {b.Reg(y)}");
            b.Emit($"setp.{IntCompareName(kind)}.s32 {d}, {xi}, {yi}");
            return;
        }
        if (t.IsFloat)
        {
            string ft, a, c;
            if (IsHalf(t))
            {
                ft = ".f32";
                a = F32Operand(x);
                c = F32Operand(y);
            }
            else
            {
                ft = t.Kind == TypeKind.Float32 ? ".f32" : ".f64";
                a = b.Src(x);
                c = b.Src(y);
            }
            if (a.Length > 0 && a[0] != '%')
            {
                string r = b.Temp(ft == ".f32" ? PtxRegisterClass.F32 : PtxRegisterClass.F64);
                b.Emit($"mov{ft} {r}, {a}");
                a = r;
            }
            b.Emit($"setp.{FloatCompareName(kind)}{ft} {d}, {a}, {c}");
            return;
        }
        bool signed = kind is CompareKind.Lt or CompareKind.Le or CompareKind.Gt or CompareKind.Ge;
        string xa = t.Kind == TypeKind.Int8 ? IntOperand(x, signed) : b.Reg(x);
        if (xa.Length > 0 && xa[0] != '%') xa = MaterializeImmediate(xa, t);
        string ya = t.Kind == TypeKind.Int8 ? IntOperand(y, signed) : b.Src(y);
        b.Emit($"setp.{IntCompareName(kind)}{IntType(t, signed)} {d}, {xa}, {ya}");
    }

    private static string IntCompareName(CompareKind kind) => kind switch
    {
        CompareKind.Eq => "eq",
        CompareKind.Ne => "ne",
        CompareKind.Lt or CompareKind.LtUn => "lt",
        CompareKind.Le or CompareKind.LeUn => "le",
        CompareKind.Gt or CompareKind.GtUn => "gt",
        _ => "ge",
    };

    /// <summary>Ordered forms are false on NaN; Ne and the Un forms are true on NaN (C#'s != is neu).</summary>
    private static string FloatCompareName(CompareKind kind) => kind switch
    {
        CompareKind.Eq => "eq",
        CompareKind.Ne => "neu",
        CompareKind.Lt => "lt",
        CompareKind.Le => "le",
        CompareKind.Gt => "gt",
        CompareKind.Ge => "ge",
        CompareKind.LtUn => "ltu",
        CompareKind.LeUn => "leu",
        CompareKind.GtUn => "gtu",
        _ => "geu",
    };

    private void Select(Instruction i)
    {
        string d = b.Def(i);
        string c = b.Reg(i.Operands[0]);
        if (i.Type.Kind == TypeKind.Bool)
        {
            string t1 = b.Temp(PtxRegisterClass.Pred), t2 = b.Temp(PtxRegisterClass.Pred), t3 = b.Temp(PtxRegisterClass.Pred);
            b.Emit($"and.pred {t1}, {c}, {b.Reg(i.Operands[1])}");
            b.Emit($"not.pred {t2}, {c}");
            b.Emit($"and.pred {t3}, {t2}, {b.Reg(i.Operands[2])}");
            b.Emit($"or.pred {d}, {t1}, {t3}");
            return;
        }
        b.Emit($"selp{BitType(i.Type)} {d}, {b.Src(i.Operands[1])}, {b.Src(i.Operands[2])}, {c}");
    }

    // ---- conversions -------------------------------------------------------------------------------

    /// <summary>
    /// Converts <paramref name="v"/> to <paramref name="to"/> into <paramref name="d"/> with C#'s rules:
    /// int→float rounds to nearest (cvt.rn), float→int truncates and saturates (cvt.rzi; NaN → 0, which is
    /// what .NET 9+ does), float narrowing rounds to nearest even, widening is exact; integer widening
    /// sign-extends unless <paramref name="unsigned"/>, narrowing truncates; Bool → 0/1 (selp); to Bool
    /// is "not zero". f32/f64 → i8 saturates to the 16-bit range, then keeps the low 8 bits.
    /// </summary>
    public void Convert(string d, Value v, IRType to, bool unsigned)
    {
        var from = v.Type;
        if (from == to || (from.IsPointer && to.IsPointer) || (from.IsPointer && to.Kind == TypeKind.Int64) || (from.Kind == TypeKind.Int64 && to.IsPointer))
        {
            b.Emit($"mov{BitType(to)} {d}, {b.Src(v)}");
            return;
        }
        if (from.Kind == TypeKind.Bool)
        {
            string p = b.Reg(v);
            if (to.IsInteger || to.IsPointer) b.Emit($"selp.u{RegBits(to)} {d}, 1, 0, {p}");
            else if (to.Kind == TypeKind.Float32) b.Emit($"selp.f32 {d}, {PtxCodeBuilder.F32(1)}, {PtxCodeBuilder.F32(0)}, {p}");
            else if (to.Kind == TypeKind.Float64) b.Emit($"selp.f64 {d}, {PtxCodeBuilder.F64(1)}, {PtxCodeBuilder.F64(0)}, {p}");
            else if (to.Kind == TypeKind.Float16) b.Emit($"selp.b16 {d}, 0x3C00, 0x0000, {p}");
            else if (to.Kind == TypeKind.BFloat16) b.Emit($"selp.b16 {d}, 0x3F80, 0x0000, {p}");
            else throw b.Error($"conversion i1 → {to}");
            return;
        }
        if (to.Kind == TypeKind.Bool)
        {
            if (from.IsInteger || from.IsPointer)
            {
                string a = from.Kind == TypeKind.Int8 ? IntOperand(v, false) : b.Reg(v);
                if (a.Length > 0 && a[0] != '%') a = MaterializeImmediate(a, from);
                b.Emit($"setp.ne.b{RegBits(from)} {d}, {a}, 0");
            }
            else if (from.IsFloat)
            {
                string a = IsHalf(from) ? F32Operand(v) : b.Reg(v);
                string ft = from.Kind == TypeKind.Float64 ? ".f64" : ".f32";
                string zero = ft == ".f64" ? PtxCodeBuilder.F64(0) : PtxCodeBuilder.F32(0);
                b.Emit($"setp.neu{ft} {d}, {a}, {zero}");
            }
            else throw b.Error($"conversion {from} → i1");
            return;
        }
        bool fromInt = from.IsInteger || from.IsPointer, toInt = to.IsInteger || to.IsPointer;
        if (fromInt && toInt)
        {
            IntToInt(d, v, to, unsigned);
            return;
        }
        if (fromInt && to.IsFloat)
        {
            string a = b.Reg(v);
            string st = (unsigned ? ".u" : ".s") + RegBits(from);
            if (from.Kind == TypeKind.Int8)
            {
                string w = b.Temp(PtxRegisterClass.B32);
                b.Emit($"cvt{(unsigned ? ".u32.u8" : ".s32.s8")} {w}, {a}");
                a = w;
                st = unsigned ? ".u32" : ".s32";
            }
            switch (to.Kind)
            {
                case TypeKind.Float32: b.Emit($"cvt.rn.f32{st} {d}, {a}"); break;
                case TypeKind.Float64: b.Emit($"cvt.rn.f64{st} {d}, {a}"); break;
                case TypeKind.Float16: b.Emit($"cvt.rn.f16{st} {d}, {a}"); break;
                default:
                {
                    // int → f32 → bf16 (two roundings; exact for |v| < 2^24).
                    string f = b.Temp(PtxRegisterClass.F32);
                    b.Emit($"cvt.rn.f32{st} {f}, {a}");
                    NarrowFromF32(d, f, to.Kind);
                    break;
                }
            }
            return;
        }
        if (from.IsFloat && toInt)
        {
            string a;
            string ft;
            if (IsHalf(from))
            {
                a = F32Operand(v);
                ft = ".f32";
            }
            else
            {
                a = b.Reg(v);
                ft = from.Kind == TypeKind.Float32 ? ".f32" : ".f64";
            }
            string dt = (unsigned ? ".u" : ".s") + RegBits(to);
            b.Emit($"cvt.rzi{dt}{ft} {d}, {a}");
            return;
        }
        if (from.IsFloat && to.IsFloat)
        {
            FloatToFloat(d, v, to);
            return;
        }
        throw b.Error($"conversion {from} → {to}");
    }

    private void IntToInt(string d, Value v, IRType to, bool unsigned)
    {
        var from = v.Type;
        int fb = IntBits(from), tb = IntBits(to);
        string a = b.Reg(v);
        if (fb == tb)
        {
            b.Emit($"mov.b{RegBits(to)} {d}, {a}");
        }
        else if (tb > fb)
        {
            string s = unsigned ? ".u" : ".s";
            b.Emit($"cvt{s}{RegBits(to)}{s}{fb} {d}, {a}");
        }
        else if (RegBits(to) == RegBits(from))
        {
            // i16 → i8: same register width; the high byte becomes unspecified.
            b.Emit($"mov.b16 {d}, {a}");
        }
        else
        {
            b.Emit($"cvt.u{RegBits(to)}.u{RegBits(from)} {d}, {a}");
        }
    }

    private void FloatToFloat(string d, Value v, IRType to)
    {
        var fk = v.Type.Kind;
        var tk = to.Kind;
        string a = b.Reg(v);
        switch (fk, tk)
        {
            case (TypeKind.Float32, TypeKind.Float64): b.Emit($"cvt.f64.f32 {d}, {a}"); return;
            case (TypeKind.Float64, TypeKind.Float32): b.Emit($"cvt.rn.f32.f64 {d}, {a}"); return;
            case (TypeKind.Float16, TypeKind.Float32): b.Emit($"cvt.f32.f16 {d}, {a}"); return;
            case (TypeKind.Float16, TypeKind.Float64): b.Emit($"cvt.f64.f16 {d}, {a}"); return;
            case (TypeKind.Float32, TypeKind.Float16): b.Emit($"cvt.rn.f16.f32 {d}, {a}"); return;
            case (TypeKind.Float64, TypeKind.Float16): b.Emit($"cvt.rn.f16.f64 {d}, {a}"); return;
            case (TypeKind.Float32, TypeKind.BFloat16): NarrowFromF32(d, a, TypeKind.BFloat16); return;
            case (TypeKind.BFloat16, TypeKind.Float32): BFloat16ToF32(d, a); return;
        }
        // The rest goes through f32: f16/bf16 → f32 is exact, so f16↔bf16 rounds once; f64 → bf16 rounds
        // twice (f64 → f32 → bf16), which can differ from a direct rounding in rare halfway cases.
        string f = b.Temp(PtxRegisterClass.F32);
        if (fk == TypeKind.Float64) b.Emit($"cvt.rn.f32.f64 {f}, {a}");
        else if (fk == TypeKind.Float16) b.Emit($"cvt.f32.f16 {f}, {a}");
        else BFloat16ToF32(f, a);
        if (tk == TypeKind.Float64) b.Emit($"cvt.f64.f32 {d}, {f}");
        else NarrowFromF32(d, f, tk);
    }

    /// <summary>bf16 → f32 is exact: <c>cvt.f32.bf16</c> on sm_90 (PTX 7.8), else the bits shifted up by 16.</summary>
    public void BFloat16ToF32(string d, string h)
    {
        if (b.HasBf16ToF32Cvt)
        {
            b.Emit($"cvt.f32.bf16 {d}, {h}");
            return;
        }
        string r = b.Temp(PtxRegisterClass.B32);
        b.Emit($"cvt.u32.u16 {r}, {h}");
        b.Emit($"shl.b32 {r}, {r}, 16");
        b.Emit($"mov.b32 {d}, {r}");
    }

    // ---- memory ------------------------------------------------------------------------------------

    /// <summary>The state-space qualifier of a pointer type: .global, .shared, .local or none (generic).</summary>
    public static string Space(IRType pointer) => pointer.Space switch
    {
        AddressSpace.Global => ".global",
        AddressSpace.Shared => ".shared",
        AddressSpace.Local => ".local",
        _ => "",
    };

    /// <summary>Base value and constant byte offset of an address (PtrAdd chains with constant offsets are folded).</summary>
    public static (Value Base, long Offset) Decompose(Value pointer)
    {
        long offset = 0;
        while (pointer is Instruction { Op: Opcode.PtrAdd } add && add.Operands[1] is Constant c
               && add.Operands[0].Type.Space == pointer.Type.Space
               && offset + c.Bits is >= int.MinValue and <= int.MaxValue)
        {
            offset += c.Bits;
            pointer = add.Operands[0];
        }
        return (pointer, offset);
    }

    /// <summary>The PTX address operand <c>[%rd+off]</c> of <paramref name="pointer"/>.</summary>
    public string Address(Value pointer)
    {
        var (baseValue, offset) = Decompose(pointer);
        return AddressOf(b.Reg(baseValue), offset);
    }

    /// <summary>Formats <c>[reg]</c> or <c>[reg+offset]</c>.</summary>
    public static string AddressOf(string register, long offset)
        => offset == 0 ? $"[{register}]" : $"[{register}+{offset.ToString(System.Globalization.CultureInfo.InvariantCulture)}]";

    /// <summary>The type suffix of a load or store of <paramref name="t"/> (i8 → .u8 into a 16-bit register, f16 → .b16).</summary>
    public static string MemoryType(IRType t) => t.Kind switch
    {
        TypeKind.Bool or TypeKind.Int8 => ".u8",
        TypeKind.Int16 => ".u16",
        TypeKind.Int32 => ".u32",
        TypeKind.Int64 or TypeKind.Pointer => ".u64",
        TypeKind.Float16 or TypeKind.BFloat16 => ".b16",
        TypeKind.Float32 => ".f32",
        TypeKind.Float64 => ".f64",
        _ => throw new CompilationException($"PTX backend: cannot load or store {t}."),
    };

    private void Load(Instruction i)
    {
        var pointer = i.Operands[0];
        string address = Address(pointer);
        string space = Space(pointer.Type);
        if (i.Type.Kind == TypeKind.Bool)
        {
            string byteReg = b.Temp(PtxRegisterClass.B16);
            b.Emit($"ld{space}.u8 {byteReg}, {address}");
            b.Emit($"setp.ne.b16 {b.Def(i)}, {byteReg}, 0");
            return;
        }
        b.Emit($"ld{space}{MemoryType(i.Type)} {b.Def(i)}, {address}");
    }

    private void Store(Instruction i)
    {
        var pointer = i.Operands[0];
        var value = i.Operands[1];
        string address = Address(pointer);
        string space = Space(pointer.Type);
        if (value.Type.Kind == TypeKind.Bool)
        {
            string byteReg = b.Temp(PtxRegisterClass.B16);
            b.Emit($"selp.u16 {byteReg}, 1, 0, {b.Reg(value)}");
            b.Emit($"st{space}.u8 {address}, {byteReg}");
            return;
        }
        b.Emit($"st{space}{MemoryType(value.Type)} {address}, {b.Reg(value)}");
    }

    /// <summary>Declares a <c>.local</c> array for an alloca or a local allocation and puts its address in the result.</summary>
    public void LocalArray(Instruction i, int bytes, int alignment)
    {
        string name = b.NewLocalName();
        int align = Math.Max(1, alignment);
        if ((align & (align - 1)) != 0) throw b.Error($"alignment {alignment} is not a power of two");
        b.FunctionDeclarations.Add($".local .align {align} .b8 {name}[{Math.Max(1, bytes)}];");
        AddressOfSymbol(b.Def(i), name, AddressSpace.Local, i.Type.Space);
    }

    /// <summary>Puts the address of a state-space symbol in <paramref name="d"/> in the window of <paramref name="wanted"/>.</summary>
    public void AddressOfSymbol(string d, string symbol, AddressSpace symbolSpace, AddressSpace wanted)
    {
        if (wanted == symbolSpace)
        {
            b.Emit($"mov.u64 {d}, {symbol}");
            return;
        }
        if (wanted != AddressSpace.Generic)
            throw b.Error($"a {symbolSpace} allocation typed as a {wanted} pointer");
        string t = b.Temp(PtxRegisterClass.B64);
        b.Emit($"mov.u64 {t}, {symbol}");
        b.Emit($"cvta{Space(IRType.Pointer(symbolSpace))}.u64 {d}, {t}");
    }

    /// <summary>cvta / cvta.to between address windows.</summary>
    public void AddrSpaceCast(string d, string a, AddressSpace from, AddressSpace to)
    {
        if (from == to)
            b.Emit($"mov.b64 {d}, {a}");
        else if (from == AddressSpace.Generic)
            b.Emit($"cvta.to{Space(IRType.Pointer(to))}.u64 {d}, {a}");
        else if (to == AddressSpace.Generic)
            b.Emit($"cvta{Space(IRType.Pointer(from))}.u64 {d}, {a}");
        else
        {
            string g = b.Temp(PtxRegisterClass.B64);
            b.Emit($"cvta{Space(IRType.Pointer(from))}.u64 {g}, {a}");
            b.Emit($"cvta.to{Space(IRType.Pointer(to))}.u64 {d}, {g}");
        }
    }
}
