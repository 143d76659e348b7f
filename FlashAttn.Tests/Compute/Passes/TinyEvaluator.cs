using System.Buffers.Binary;
using FlashAttn.Compute;
using FlashAttn.Compute.IR;

namespace FlashAttn.Tests.Compute.Passes;

/// <summary>A scalar value in the evaluator: integers (sign-extended) in I, floats in F.</summary>
internal readonly record struct Val(long I, double F)
{
    public static Val Int(long i) => new(i, 0);
    public static Val Flt(double f) => new(0, f);
    public bool SameAs(Val other) => I == other.I && BitConverter.DoubleToInt64Bits(F) == BitConverter.DoubleToInt64Bits(other.F);
    public override string ToString() => F != 0 || double.IsNaN(F) ? F.ToString("R") : I.ToString();
}

/// <summary>
/// A test-only, single-thread interpreter of IR: scalar ops, phis, calls, and alloca/load/store on a byte
/// array (pointers are offsets into it). Written independently of the passes' constant evaluator.
/// </summary>
internal sealed class TinyEvaluator
{
    public byte[] Memory { get; } = new byte[1 << 20];
    private long _stackTop = 1 << 19;   // allocas grow from here; tests put "global" buffers below
    public long StepLimit { get; set; } = 5_000_000;
    private long _steps;

    public Val Run(Function function, params Val[] args)
    {
        var values = new Dictionary<Value, Val>();
        for (int k = 0; k < function.Parameters.Count; k++) values[function.Parameters[k]] = args[k];
        long frame = _stackTop;
        try
        {
            BasicBlock? previous = null;
            var block = function.Entry;
            while (true)
            {
                var phis = block.Phis.ToList();
                var incoming = phis.Select(p => Get(values, p.Operands[p.PhiBlocks.IndexOf(previous!)])).ToList();
                for (int k = 0; k < phis.Count; k++) values[phis[k]] = incoming[k];
                BasicBlock? next = null;
                foreach (var i in block.Instructions.Skip(phis.Count))
                {
                    if (++_steps > StepLimit) throw new InvalidOperationException("step limit");
                    switch (i.Op)
                    {
                        case Opcode.Br: next = i.Targets[0]; break;
                        case Opcode.CondBr: next = i.Targets[Get(values, i.Operands[0]).I != 0 ? 0 : 1]; break;
                        case Opcode.Ret: return i.Operands.Count > 0 ? Get(values, i.Operands[0]) : default;
                        case Opcode.Unreachable: throw new InvalidOperationException("reached unreachable");
                        default: values[i] = Execute(i, values); break;
                    }
                }
                previous = block;
                block = next ?? throw new InvalidOperationException("block without terminator");
            }
        }
        finally { _stackTop = frame; }
    }

    private static Val Get(Dictionary<Value, Val> values, Value v) => v switch
    {
        Constant c => new Val(c.Type.IsFloat ? 0 : c.Bits, c.Type.IsFloat ? c.Float : 0),
        _ => values.TryGetValue(v, out var x) ? x : throw new InvalidOperationException($"value {IRPrinter.Name(v)} used before definition"),
    };

    private Val Execute(Instruction i, Dictionary<Value, Val> values)
    {
        Val A(int k) => Get(values, i.Operands[k]);
        switch (i.Op)
        {
            case Opcode.Alloca: return Val.Int(Allocate(i.AllocaSize, i.Alignment));
            case Opcode.Intrinsic when i.Intrinsic == IntrinsicOp.LocalAllocate:
                return Val.Int(Allocate((int)A(0).I * i.ElementType!.Size, i.ElementType.Size));
            case Opcode.Intrinsic when i.Intrinsic == IntrinsicOp.CpuBoundsCheck: return default;
            case Opcode.Intrinsic: throw new NotSupportedException("intrinsic " + i.Intrinsic);
            case Opcode.Load: return Read(i.Type, A(0).I);
            case Opcode.Store: Write(i.Operands[1].Type, A(0).I, A(1)); return default;
            case Opcode.PtrAdd: return Val.Int(A(0).I + A(1).I);
            case Opcode.PtrToInt or Opcode.IntToPtr or Opcode.AddrSpaceCast: return A(0);
            case Opcode.Call: return Run(i.Callee!, i.Operands.Select(o => Get(values, o)).ToArray());
            case Opcode.Select: return A(0).I != 0 ? A(1) : A(2);
            case Opcode.Cmp: return Val.Int(Compare(i.Compare, i.Operands[0].Type, A(0), A(1)) ? 1 : 0);
            case Opcode.Convert: return Convert(i.Operands[0].Type, i.Type, A(0), i.Unsigned);
            case Opcode.Neg or Opcode.Not: return Unary(i.Op, i.Type, A(0));
            default: return Binary(i.Op, i.Type, A(0), A(1));
        }
    }

    private long Allocate(int size, int alignment)
    {
        alignment = Math.Max(1, alignment);
        _stackTop = (_stackTop + alignment - 1) / alignment * alignment;
        long address = _stackTop;
        _stackTop += Math.Max(1, size);
        Array.Clear(Memory, (int)address, Math.Max(1, size));   // C# locals are zero-initialised
        return address;
    }

    public Val Read(IRType type, long address)
    {
        var span = Memory.AsSpan((int)address);
        return type.Kind switch
        {
            TypeKind.Bool => Val.Int(span[0] != 0 ? 1 : 0),
            TypeKind.Int8 => Val.Int((sbyte)span[0]),
            TypeKind.Int16 => Val.Int(BinaryPrimitives.ReadInt16LittleEndian(span)),
            TypeKind.Int32 => Val.Int(BinaryPrimitives.ReadInt32LittleEndian(span)),
            TypeKind.Int64 or TypeKind.Pointer => Val.Int(BinaryPrimitives.ReadInt64LittleEndian(span)),
            TypeKind.Float16 => Val.Flt((double)BinaryPrimitives.ReadHalfLittleEndian(span)),
            TypeKind.Float32 => Val.Flt(BinaryPrimitives.ReadSingleLittleEndian(span)),
            TypeKind.Float64 => Val.Flt(BinaryPrimitives.ReadDoubleLittleEndian(span)),
            _ => throw new NotSupportedException(type.ToString()),
        };
    }

    public void Write(IRType type, long address, Val v)
    {
        var span = Memory.AsSpan((int)address);
        switch (type.Kind)
        {
            case TypeKind.Bool or TypeKind.Int8: span[0] = (byte)v.I; break;
            case TypeKind.Int16: BinaryPrimitives.WriteInt16LittleEndian(span, (short)v.I); break;
            case TypeKind.Int32: BinaryPrimitives.WriteInt32LittleEndian(span, (int)v.I); break;
            case TypeKind.Int64 or TypeKind.Pointer: BinaryPrimitives.WriteInt64LittleEndian(span, v.I); break;
            case TypeKind.Float16: BinaryPrimitives.WriteHalfLittleEndian(span, (Half)v.F); break;
            case TypeKind.Float32: BinaryPrimitives.WriteSingleLittleEndian(span, (float)v.F); break;
            case TypeKind.Float64: BinaryPrimitives.WriteDoubleLittleEndian(span, v.F); break;
            default: throw new NotSupportedException(type.ToString());
        }
    }

    /// <summary>Wraps an integer to the type's width (sign-extended).</summary>
    public static long Wrap(IRType t, long v) => t.Kind switch
    {
        TypeKind.Bool => v & 1,
        TypeKind.Int8 => (sbyte)v,
        TypeKind.Int16 => (short)v,
        TypeKind.Int32 => (int)v,
        _ => v,
    };

    private static double RoundF(IRType t, double v) => t.Kind switch
    {
        TypeKind.Float32 => (float)v,
        TypeKind.Float16 => (double)(Half)v,
        _ => v,
    };

    private static Val Unary(Opcode op, IRType t, Val a)
    {
        if (t.IsFloat) return Val.Flt(-a.F);
        if (op == Opcode.Neg) return Val.Int(Wrap(t, -a.I));
        return Val.Int(t == IRType.Bool ? (a.I == 0 ? 1 : 0) : Wrap(t, ~a.I));
    }

    private static Val Binary(Opcode op, IRType t, Val a, Val b)
    {
        if (t == IRType.Float32)
        {
            float x = (float)a.F, y = (float)b.F;
            return Val.Flt(op switch
            {
                Opcode.Add => x + y, Opcode.Sub => x - y, Opcode.Mul => x * y, Opcode.Div => x / y, Opcode.Rem => x % y,
                _ => throw new NotSupportedException(op.ToString()),
            });
        }
        if (t.IsFloat)
        {
            double x = a.F, y = b.F;
            return Val.Flt(RoundF(t, op switch
            {
                Opcode.Add => x + y, Opcode.Sub => x - y, Opcode.Mul => x * y, Opcode.Div => x / y, Opcode.Rem => x % y,
                _ => throw new NotSupportedException(op.ToString()),
            }));
        }
        // Integers by width with C#'s own typed operators.
        return t.Kind switch
        {
            TypeKind.Int32 => Val.Int(I32(op, (int)a.I, (int)b.I)),
            TypeKind.Int64 => Val.Int(I64(op, a.I, b.I)),
            _ => Val.Int(Wrap(t, I64Narrow(op, t, a.I, b.I))),
        };
    }

    private static int I32(Opcode op, int x, int y) => op switch
    {
        Opcode.Add => unchecked(x + y), Opcode.Sub => unchecked(x - y), Opcode.Mul => unchecked(x * y),
        Opcode.Div => x / y, Opcode.Rem => x % y,
        Opcode.DivUn => (int)((uint)x / (uint)y), Opcode.RemUn => (int)((uint)x % (uint)y),
        Opcode.And => x & y, Opcode.Or => x | y, Opcode.Xor => x ^ y,
        Opcode.Shl => x << y, Opcode.Shr => x >> y, Opcode.ShrUn => (int)((uint)x >> y),
        _ => throw new NotSupportedException(op.ToString()),
    };

    private static long I64(Opcode op, long x, long y) => op switch
    {
        Opcode.Add => unchecked(x + y), Opcode.Sub => unchecked(x - y), Opcode.Mul => unchecked(x * y),
        Opcode.Div => x / y, Opcode.Rem => x % y,
        Opcode.DivUn => (long)((ulong)x / (ulong)y), Opcode.RemUn => (long)((ulong)x % (ulong)y),
        Opcode.And => x & y, Opcode.Or => x | y, Opcode.Xor => x ^ y,
        Opcode.Shl => x << (int)y, Opcode.Shr => x >> (int)y, Opcode.ShrUn => (long)((ulong)x >> (int)y),
        _ => throw new NotSupportedException(op.ToString()),
    };

    // i8/i16/Bool: computed as C# would on the promoted int, then truncated.
    private static long I64Narrow(Opcode op, IRType t, long x, long y)
    {
        long mask = t == IRType.Bool ? 1 : (1L << (t.Size * 8)) - 1;
        return op switch
        {
            Opcode.DivUn => (x & mask) / (y & mask),
            Opcode.RemUn => (x & mask) % (y & mask),
            Opcode.ShrUn => (int)(x & mask) >> (int)y,
            Opcode.Shl or Opcode.Shr => I32(op, (int)x, (int)y),
            _ => I64(op, x, y),
        };
    }

    private static bool Compare(CompareKind kind, IRType t, Val a, Val b)
    {
        if (t.IsFloat)
        {
            double x = a.F, y = b.F;
            return kind switch
            {
                CompareKind.Eq => x == y, CompareKind.Ne => x != y,
                CompareKind.Lt => x < y, CompareKind.Le => x <= y, CompareKind.Gt => x > y, CompareKind.Ge => x >= y,
                CompareKind.LtUn => double.IsNaN(x) || double.IsNaN(y) || x < y,
                CompareKind.LeUn => double.IsNaN(x) || double.IsNaN(y) || x <= y,
                CompareKind.GtUn => double.IsNaN(x) || double.IsNaN(y) || x > y,
                CompareKind.GeUn => double.IsNaN(x) || double.IsNaN(y) || x >= y,
                _ => throw new NotSupportedException(),
            };
        }
        ulong mask = t.Size >= 8 ? ulong.MaxValue : (1UL << (t.Size * 8)) - 1;
        ulong ux = (ulong)a.I & mask, uy = (ulong)b.I & mask;
        return kind switch
        {
            CompareKind.Eq => a.I == b.I, CompareKind.Ne => a.I != b.I,
            CompareKind.Lt => a.I < b.I, CompareKind.Le => a.I <= b.I, CompareKind.Gt => a.I > b.I, CompareKind.Ge => a.I >= b.I,
            CompareKind.LtUn => ux < uy, CompareKind.LeUn => ux <= uy, CompareKind.GtUn => ux > uy, CompareKind.GeUn => ux >= uy,
            _ => throw new NotSupportedException(),
        };
    }

    private static Val Convert(IRType from, IRType to, Val v, bool unsigned)
    {
        if (!from.IsFloat)
        {
            ulong mask = from == IRType.Bool ? 1 : from.Size >= 8 ? ulong.MaxValue : (1UL << (from.Size * 8)) - 1;
            long source = unsigned ? (long)((ulong)v.I & mask) : v.I;
            if (to.IsFloat)
                return Val.Flt(to == IRType.Float64
                    ? (unsigned ? (double)(ulong)source : source)
                    : RoundF(to, unsigned ? (float)(ulong)source : (float)source));
            return Val.Int(Wrap(to, source));
        }
        if (to.IsFloat) return Val.Flt(RoundF(to, v.F));
        // .NET (9+) float → integer conversions saturate, NaN → 0.
        return Val.Int(to.Kind switch
        {
            TypeKind.Int8 => unsigned ? (sbyte)(byte)v.F : (sbyte)v.F,
            TypeKind.Int16 => unsigned ? (short)(ushort)v.F : (short)v.F,
            TypeKind.Int32 => unsigned ? (int)(uint)v.F : (int)v.F,
            _ => unsigned ? (long)(ulong)v.F : (long)v.F,
        });
    }
}
