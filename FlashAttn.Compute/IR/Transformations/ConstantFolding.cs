namespace FlashAttn.Compute.IR.Transformations;

/// <summary>
/// Folds operations on constants (see <see cref="ConstantEvaluator"/>), applies algebraic identities
/// (x+0, x·1, integer x·0 and x−x, bitwise identities, lossless <c>Convert</c> chains, Bool round trips
/// through integers and selects, <c>Select</c> on a constant or of equal arms, Bool selects with a constant arm as
/// logic, <c>PtrAdd</c> chains), folds conditional
/// branches on constants (fixing the phis of the dropped successor) and drops <c>CpuBoundsCheck</c>.
/// </summary>
public sealed class ConstantFolding : FunctionPass
{
    /// <inheritdoc/>
    public override string Name => "ConstantFolding";

    /// <inheritdoc/>
    public override bool Run(Function function)
    {
        bool any = false;
        for (int round = 0; round < 100; round++)
        {
            bool changed = false;
            var replacements = new Dictionary<Value, Value>();
            foreach (var block in function.Blocks)
            {
                for (int index = 0; index < block.Instructions.Count; index++)
                {
                    var instruction = block.Instructions[index];
                    for (int k = 0; k < instruction.Operands.Count; k++)
                        while (replacements.TryGetValue(instruction.Operands[k], out var r)) instruction.Operands[k] = r;
                    if (instruction is { Op: Opcode.Intrinsic, Intrinsic: IntrinsicOp.CpuBoundsCheck } && instruction.Type.Kind == TypeKind.Void)
                    {
                        instruction.Block = null;
                        block.Instructions.RemoveAt(index--);
                        changed = true;
                        continue;
                    }
                    if (instruction.Op == Opcode.CondBr && instruction.Operands[0] is Constant condition)
                    {
                        CfgUtilities.ReplaceTerminatorWithBr(block, instruction.Targets[condition.Bits != 0 ? 0 : 1]);
                        changed = true;
                        continue;
                    }
                    if (instruction.Op == Opcode.PtrAdd && instruction.Operands[1] is Constant c2
                        && instruction.Operands[0] is Instruction { Op: Opcode.PtrAdd } inner && inner.Operands[1] is Constant c1)
                    {
                        instruction.Operands[0] = inner.Operands[0];
                        instruction.Operands[1] = Constant.I64(unchecked(c1.Bits + c2.Bits));
                        changed = true;
                    }
                    var simplified = Simplify(instruction);
                    if (simplified is null) continue;
                    if (simplified is Instruction created && created.Block is null)
                        index = Place(block, index, created); // new instructions replacing this one
                    replacements[instruction] = simplified;
                    instruction.Block = null;
                    block.Instructions.RemoveAt(index--);
                    changed = true;
                }
            }
            function.ReplaceUses(replacements);
            if (!changed) break;
            any = true;
        }
        return any;
    }

    /// <summary>Inserts <paramref name="created"/> at <paramref name="index"/>, after any new instruction among its operands;
    /// returns the index of the instruction it replaces.</summary>
    private static int Place(BasicBlock block, int index, Instruction created)
    {
        foreach (var operand in created.Operands)
            if (operand is Instruction { Block: null, Op: not Opcode.Phi } inner) index = Place(block, index, inner);
        block.Insert(index, created);
        return index + 1;
    }

    private static bool IsZero(Value v) => v is Constant c && (c.Type.IsFloat ? false : c.Bits == 0);
    private static bool IsOne(Value v) => v is Constant c && (c.Type.IsFloat ? c.Float == 1.0 : c.Bits == 1);
    private static bool IsFloatZero(Value v) => v is Constant c && c.Type.IsFloat && c.Float == 0 && !double.IsNegative(c.Float);
    private static bool IsAllOnes(Value v) => v is Constant c && !c.Type.IsFloat && (c.Type == IRType.Bool ? c.Bits == 1 : c.Bits == -1);

    /// <summary>Signed integer Min/Max (<c>Math.Min</c>, <c>XMath.Min</c>) of two constants, or of one value with itself:
    /// sizes computed with them (a tile's rows, a register array's length) must fold to constants like plain arithmetic.</summary>
    private static Value? IntegerMinMax(Instruction i)
    {
        if (i is not { Op: Opcode.Intrinsic, Intrinsic: IntrinsicOp.Min or IntrinsicOp.Max, Unsigned: false } || !i.Type.IsInteger
            || i.Operands.Count != 2)
            return null;
        if (i.Operands[0] == i.Operands[1]) return i.Operands[0];
        if (i.Operands[0] is not Constant a || i.Operands[1] is not Constant b) return null;
        return (a.Bits <= b.Bits) == (i.Intrinsic == IntrinsicOp.Min) ? a : b;
    }

    private static bool Same(Value a, Value b) => a == b || (a is Constant x && b is Constant y && x.SameAs(y));

    /// <summary>A value equal to <paramref name="i"/>'s result (possibly a new, not yet placed instruction), or null.</summary>
    internal static Value? Simplify(Instruction i)
    {
        if (IntegerMinMax(i) is { } extreme) return extreme;
        if (i.Type.Kind == TypeKind.Void || i.Op is Opcode.Phi or Opcode.Load or Opcode.Alloca or Opcode.Call or Opcode.Intrinsic or Opcode.Extract)
            return null;
        var ops = i.Operands;
        if (ops.Count > 0 && ops.All(o => o is Constant))
        {
            if (ConstantEvaluator.Evaluate(i, ops.Cast<Constant>().ToList()) is { } folded) return folded;
        }
        bool isInt = i.Type.IsInteger || i.Type == IRType.Bool;
        switch (i.Op)
        {
            case Opcode.Add:
                if (isInt && IsZero(ops[1])) return ops[0];
                if (isInt && IsZero(ops[0])) return ops[1];
                // Float: x + (-0) = x exactly; x + 0 is not x for x = -0.
                if (ops[1] is Constant { } fz && fz.Type.IsFloat && fz.Float == 0 && double.IsNegative(fz.Float)) return ops[0];
                break;
            case Opcode.Sub:
                if (isInt && IsZero(ops[1])) return ops[0];
                if (IsFloatZero(ops[1])) return ops[0];
                if (isInt && ops[0] == ops[1]) return CfgUtilities.Zero(i.Type);
                break;
            case Opcode.Mul:
                if (IsOne(ops[1])) return ops[0];
                if (IsOne(ops[0])) return ops[1];
                if (isInt && (IsZero(ops[0]) || IsZero(ops[1]))) return CfgUtilities.Zero(i.Type);
                break;
            case Opcode.Div or Opcode.DivUn:
                if (IsOne(ops[1])) return ops[0];
                break;
            case Opcode.And or Opcode.Or or Opcode.Xor when i.Type.IsInteger && BoolLogic(i) is { } logic:
                return logic;
            case Opcode.And:
                if (isInt && (IsZero(ops[0]) || IsZero(ops[1]))) return CfgUtilities.Zero(i.Type);
                if (IsAllOnes(ops[1]) || ops[0] == ops[1]) return ops[0];
                if (IsAllOnes(ops[0])) return ops[1];
                break;
            case Opcode.Or:
                if (IsZero(ops[1]) || ops[0] == ops[1]) return ops[0];
                if (IsZero(ops[0])) return ops[1];
                if (IsAllOnes(ops[0]) || IsAllOnes(ops[1])) return Constant.Int(i.Type, -1);
                break;
            case Opcode.Xor:
                if (IsZero(ops[1])) return ops[0];
                if (IsZero(ops[0])) return ops[1];
                if (isInt && ops[0] == ops[1]) return CfgUtilities.Zero(i.Type);
                break;
            case Opcode.Shl or Opcode.Shr or Opcode.ShrUn:
                if (IsZero(ops[1])) return ops[0];
                break;
            case Opcode.Not or Opcode.Neg:
                if (ops[0] is Instruction inner && inner.Op == i.Op && (i.Op == Opcode.Not || isInt)) return inner.Operands[0];
                break;
            case Opcode.Select:
                if (ops[0] is Constant condition) return condition.Bits != 0 ? ops[1] : ops[2];
                if (Same(ops[1], ops[2])) return ops[1];
                return SimplifyBoolSelect(i);
            case Opcode.PtrAdd:
                if (IsZero(ops[1])) return ops[0];
                break;
            case Opcode.Convert:
                return SimplifyConvert(i);
            case Opcode.Cmp:
                return SimplifyCompare(i);
        }
        return null;
    }

    private static Value? SimplifyConvert(Instruction i)
    {
        var source = i.Operands[0];
        if (source.Type == i.Type) return source;
        if (source is Instruction { Op: Opcode.Convert } inner)
        {
            var original = inner.Operands[0].Type;
            var middle = inner.Type;
            // Integer widening then narrowing back to the original width: the original value.
            if ((original.IsInteger || original == IRType.Bool) && middle.IsInteger && i.Type == original
                && middle.Size > original.Size && original.IsInteger)
                return inner.Operands[0];
            // Widening then widening further with the same extension: one conversion.
            if (original.IsInteger && middle.IsInteger && i.Type.IsInteger && middle.Size > original.Size && i.Type.Size > middle.Size
                && inner.Unsigned == i.Unsigned)
                return new Instruction(Opcode.Convert, i.Type, inner.Operands[0]) { Unsigned = i.Unsigned };
            // Bool → int → wider/narrower int (not Bool): one conversion of the Bool.
            if (original == IRType.Bool && middle.IsInteger && i.Type.IsInteger)
                return new Instruction(Opcode.Convert, i.Type, inner.Operands[0]);
            // f32 → f64 → f32 is exact.
            if (original.IsFloat && middle.IsFloat && i.Type == original && middle.Size > original.Size)
                return inner.Operands[0];
        }
        return null;
    }

    /// <summary>A Bool select with a constant arm is logic: c ? x : false = c ∧ x, c ? true : x = c ∨ x, and the negated
    /// forms (the PTX of a Bool select is four predicate instructions, of these one).</summary>
    private static Value? SimplifyBoolSelect(Instruction i)
    {
        if (i.Type != IRType.Bool) return null;
        Value c = i.Operands[0], x = i.Operands[1], y = i.Operands[2];
        if (y is Constant { Bits: 0 }) return new Instruction(Opcode.And, IRType.Bool, c, x);
        if (x is Constant { Bits: not 0 }) return new Instruction(Opcode.Or, IRType.Bool, c, y);
        // c ? false : y = ¬c ∧ y and c ? x : true = ¬c ∨ x need a Not as well: left for a later round once c is negated
        return null;
    }

    /// <summary>
    /// C#'s <c>&amp;</c>, <c>|</c>, <c>^</c> on Bools are integer operations on 0/1: when both operands are converted Bools
    /// (not constants: those fold otherwise), the operation on the Bools, converted (predicate logic in PTX; as integers
    /// ptxas spent a SEL per operand).
    /// </summary>
    private static Instruction? BoolLogic(Instruction i)
    {
        if (i.Operands[0] is not Instruction { Op: Opcode.Convert } left || left.Operands[0].Type != IRType.Bool
            || i.Operands[1] is not Instruction { Op: Opcode.Convert } right || right.Operands[0].Type != IRType.Bool)
            return null;
        var logic = new Instruction(i.Op, IRType.Bool, left.Operands[0], right.Operands[0]);
        return new Instruction(Opcode.Convert, i.Type, logic) { Unsigned = true };
    }

    /// <summary>
    /// The Bool that integer <paramref name="v"/> holds as 0 or 1, when it is a Bool converted to an integer, a constant 0 or 1,
    /// an integer conversion of such (0 and 1 survive any width), or a select of two such (then a new Bool select,
    /// returned in <paramref name="created"/>, not yet placed); else null.
    /// </summary>
    private static Value? AsBool(Value v, out Instruction? created)
    {
        created = null;
        while (v is Instruction { Op: Opcode.Convert } convert && convert.Type.IsInteger && convert.Operands[0].Type.IsInteger)
            v = convert.Operands[0];
        switch (v)
        {
            case Constant { Type.IsInteger: true } k when k.Bits is 0 or 1:
                return Constant.Bool(k.Bits != 0);
            case Instruction { Op: Opcode.Convert } convert when convert.Operands[0].Type == IRType.Bool:
                return convert.Operands[0];
            case Instruction { Op: Opcode.Select } select
                when AsBool(select.Operands[1], out var inner1) is { } x && inner1 is null
                    && AsBool(select.Operands[2], out var inner2) is { } y && inner2 is null:
                created = new Instruction(Opcode.Select, IRType.Bool, select.Operands[0], x, y);
                return created;
        }
        return null;
    }

    private static Value? SimplifyCompare(Instruction i)
    {
        Value a = i.Operands[0], b = i.Operands[1];
        if (a is Constant && b is not Constant && i.Compare is CompareKind.Eq or CompareKind.Ne) (a, b) = (b, a);
        // a 0/1 integer != 0 is the Bool it holds, == 0 its negation: a Bool round trip through an integer ((int)c != 0 → c),
        // through conversions and selects too (as a Bool merged by IfConversion travels)
        if (a.Type.IsInteger && IsZero(b) && a is not Constant && AsBool(a, out var created) is { } truth)
        {
            if (i.Compare == CompareKind.Ne) return truth;
            if (i.Compare == CompareKind.Eq && created is null) return new Instruction(Opcode.Not, IRType.Bool, truth);
        }
        // c != 0 / c == 1 on a Bool itself.
        if (a.Type == IRType.Bool && b is Constant k)
        {
            if ((i.Compare == CompareKind.Ne && k.Bits == 0) || (i.Compare == CompareKind.Eq && k.Bits == 1)) return a;
            if ((i.Compare == CompareKind.Eq && k.Bits == 0) || (i.Compare == CompareKind.Ne && k.Bits == 1))
                return new Instruction(Opcode.Not, IRType.Bool, a);
        }
        if (a == b && (a.Type.IsInteger || a.Type == IRType.Bool || a.Type.IsPointer))
            return Constant.Bool(i.Compare is CompareKind.Eq or CompareKind.Le or CompareKind.Ge or CompareKind.LeUn or CompareKind.GeUn);
        return null;
    }
}
