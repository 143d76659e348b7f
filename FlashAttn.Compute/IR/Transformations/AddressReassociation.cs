namespace FlashAttn.Compute.IR.Transformations;

/// <summary>
/// Splits the byte offset of every <c>PtrAdd</c> into a variable part and a constant part:
/// <c>p + sext(i + 3)·16</c> becomes <c>(p + sext(i)·16) + 48</c>. After full unrolling, the loads of a
/// register block then share one base address (merged by CSE) and the PTX backend folds the constant
/// into the instruction (<c>ld.shared.v4.f32 [%rd+48]</c>).
/// </summary>
/// <remarks>
/// Moving a constant out of a sign extension (<c>sext(a + c) = sext(a) + c</c>) assumes the 32-bit index
/// arithmetic does not overflow. C# would wrap, but an index that wraps addresses memory outside the view:
/// on the CPU the bounds check stops it, on the GPU it is undefined either way. This is the assumption
/// C compilers make for signed arithmetic, and without it ptxas cannot hoist the constant either.
/// </remarks>
public sealed class AddressReassociation : FunctionPass
{
    /// <inheritdoc/>
    public override string Name => "AddressReassociation";

    /// <inheritdoc/>
    public override bool Run(Function function)
    {
        bool changed = false;
        foreach (var block in function.Blocks)
        {
            for (int i = 0; i < block.Instructions.Count; i++)
            {
                var pointerAdd = block.Instructions[i];
                if (pointerAdd.Op != Opcode.PtrAdd || pointerAdd.Operands[1] is Constant) continue;
                var emitted = new List<Instruction>();
                var (variable, constant) = Split(pointerAdd.Operands[1], emitted);
                if (constant == 0) continue;
                Value basePointer = pointerAdd.Operands[0];
                if (variable is not null)
                {
                    var inner = new Instruction(Opcode.PtrAdd, basePointer.Type, basePointer, variable);
                    emitted.Add(inner);
                    basePointer = inner;
                }
                foreach (var instruction in emitted) block.Insert(i++, instruction);
                pointerAdd.Operands[0] = basePointer;
                pointerAdd.Operands[1] = Constant.I64(constant);
                changed = true;
            }
        }
        return changed;
    }

    /// <summary>
    /// <paramref name="value"/> = variable + constant. The variable part is null when the value is constant,
    /// and the value itself (nothing emitted) when it has no constant part.
    /// </summary>
    private static (Value? Variable, long Constant) Split(Value value, List<Instruction> emit)
    {
        if (value is Constant c) return (null, c.Bits);
        if (value is not Instruction instruction || !value.Type.IsInteger) return (value, 0);
        switch (instruction.Op)
        {
            case Opcode.Add:
            {
                var (a, ca) = Split(instruction.Operands[0], emit);
                var (b, cb) = Split(instruction.Operands[1], emit);
                if (ca == 0 && cb == 0) return (value, 0);
                return (Combine(Opcode.Add, a, b, emit), ca + cb);
            }
            case Opcode.Sub when instruction.Operands[1] is Constant subtrahend:
            {
                var (a, ca) = Split(instruction.Operands[0], emit);
                return ca == 0 && subtrahend.Bits == 0 ? (value, 0) : (a, ca - subtrahend.Bits);
            }
            case Opcode.Mul when instruction.Operands[1] is Constant factor:
                return Scale(value, instruction.Operands[0], factor.Bits, emit);
            case Opcode.Mul when instruction.Operands[0] is Constant factor:
                return Scale(value, instruction.Operands[1], factor.Bits, emit);
            case Opcode.Shl when instruction.Operands[1] is Constant shift && shift.Bits is >= 0 and < 31:
                return Scale(value, instruction.Operands[0], 1L << (int)shift.Bits, emit);
            case Opcode.Convert when !instruction.Unsigned && instruction.Type == IRType.Int64
                                     && instruction.Operands[0].Type == IRType.Int32:
            {
                var (x, cx) = Split(instruction.Operands[0], emit);
                if (cx == 0) return (value, 0);
                if (x is null) return (null, cx);
                var widened = new Instruction(Opcode.Convert, IRType.Int64, x);
                emit.Add(widened);
                return (widened, cx);
            }
            default:
                return (value, 0);
        }
    }

    private static (Value?, long) Scale(Value original, Value operand, long factor, List<Instruction> emit)
    {
        var (x, cx) = Split(operand, emit);
        if (cx == 0) return (original, 0);
        if (x is null) return (null, cx * factor);
        var scaled = new Instruction(Opcode.Mul, x.Type, x, Constant.Int(x.Type, factor));
        emit.Add(scaled);
        return (scaled, cx * factor);
    }

    private static Value? Combine(Opcode op, Value? a, Value? b, List<Instruction> emit)
    {
        if (a is null) return b;
        if (b is null) return a;
        var combined = new Instruction(op, a.Type, a, b);
        emit.Add(combined);
        return combined;
    }
}
