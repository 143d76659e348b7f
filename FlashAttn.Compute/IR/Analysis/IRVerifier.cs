namespace FlashAttn.Compute.IR.Analysis;

/// <summary>Structural checks of a function; passes are tested by verifying after each one.</summary>
public static class IRVerifier
{
    /// <summary>Throws <see cref="InvalidOperationException"/> listing every problem found (with the IR) when <paramref name="function"/> is malformed.</summary>
    public static void Verify(Function function)
    {
        var errors = Check(function);
        if (errors.Count > 0)
            throw new InvalidOperationException(
                $"IR verification of '{function.Name}' failed:\n  " + string.Join("\n  ", errors) + "\n" + IRPrinter.Format(function));
    }

    /// <summary>Every problem found in <paramref name="function"/> (empty when it is well formed).</summary>
    public static List<string> Check(Function function)
    {
        var errors = new List<string>();
        if (function.Blocks.Count == 0) { errors.Add("function has no blocks"); return errors; }
        function.Renumber();
        var blocks = new HashSet<BasicBlock>(function.Blocks);
        var defined = new HashSet<Value>(function.Parameters);
        foreach (var block in function.Blocks)
            foreach (var instruction in block.Instructions) defined.Add(instruction);
        var predecessors = function.ComputePredecessors();
        if (predecessors[function.Entry].Count > 0) errors.Add($"entry block {function.Entry} has predecessors");

        foreach (var block in function.Blocks)
        {
            string Where(Instruction i) => $"{block.Name}: {IRPrinter.Format(i)}";
            if (block.Parent != function) errors.Add($"block {block} belongs to another function");
            if (block.Instructions.Count == 0 || !block.Instructions[^1].IsTerminator)
                errors.Add($"block {block} does not end with a terminator");
            bool phisDone = false;
            for (int index = 0; index < block.Instructions.Count; index++)
            {
                var instruction = block.Instructions[index];
                if (instruction.Block != block) errors.Add($"{Where(instruction)}: Block field is {instruction.Block?.Name ?? "null"}");
                if (instruction.IsTerminator && index != block.Instructions.Count - 1) errors.Add($"{Where(instruction)}: terminator not last");
                if (instruction.Op == Opcode.Phi)
                {
                    if (phisDone) errors.Add($"{Where(instruction)}: phi after a non-phi");
                    var preds = predecessors[block];
                    if (instruction.PhiBlocks.Count != instruction.Operands.Count) errors.Add($"{Where(instruction)}: operand/block count mismatch");
                    else if (instruction.PhiBlocks.Count != preds.Count || instruction.PhiBlocks.Distinct().Count() != preds.Count
                        || instruction.PhiBlocks.Any(p => !preds.Contains(p)))
                        errors.Add($"{Where(instruction)}: incoming blocks [{string.Join(", ", instruction.PhiBlocks)}] do not match predecessors [{string.Join(", ", preds)}]");
                }
                else phisDone = true;
                foreach (var target in instruction.Targets)
                    if (!blocks.Contains(target)) errors.Add($"{Where(instruction)}: target {target} is not in the function");
                foreach (var operand in instruction.Operands)
                {
                    if (operand is Constant) continue;
                    if (!defined.Contains(operand)) errors.Add($"{Where(instruction)}: operand {IRPrinter.Name(operand)} is not defined in this function");
                    else if (operand.Type.Kind == TypeKind.Void && !IsAggregateOperand(instruction, operand))
                        errors.Add($"{Where(instruction)}: void operand");
                }
                CheckTypes(function, instruction, errors, Where(instruction));
            }
        }
        return errors;
    }

    /// <summary>The one place a Void value may be an operand: an Extract of a multi-result intrinsic.</summary>
    private static bool IsAggregateOperand(Instruction user, Value operand)
        => user.Op == Opcode.Extract && operand is Instruction { Op: Opcode.Intrinsic };

    /// <summary>Same type, where pointers of different spaces count as equal (spaces are refined late).</summary>
    private static bool Same(IRType a, IRType b) => a == b || (a.IsPointer && b.IsPointer);

    private static void CheckTypes(Function function, Instruction i, List<string> errors, string where)
    {
        void Expect(bool ok, string what) { if (!ok) errors.Add($"{where}: {what}"); }
        var ops = i.Operands;
        switch (i.Op)
        {
            case Opcode.Add or Opcode.Sub or Opcode.Mul or Opcode.Div or Opcode.DivUn or Opcode.Rem or Opcode.RemUn
                or Opcode.And or Opcode.Or or Opcode.Xor or Opcode.Shl or Opcode.Shr or Opcode.ShrUn:
                Expect(ops.Count == 2 && Same(ops[0].Type, i.Type) && Same(ops[1].Type, i.Type), "binary operands must have the result type");
                break;
            case Opcode.Neg or Opcode.Not:
                Expect(ops.Count == 1 && ops[0].Type == i.Type, "unary operand must have the result type");
                break;
            case Opcode.Cmp:
                Expect(ops.Count == 2 && Same(ops[0].Type, ops[1].Type) && i.Type == IRType.Bool, "cmp needs two operands of one type and a Bool result");
                break;
            case Opcode.Select:
                Expect(ops.Count == 3 && ops[0].Type == IRType.Bool && Same(ops[1].Type, i.Type) && Same(ops[2].Type, i.Type), "select (Bool, T, T) → T");
                break;
            case Opcode.Convert:
                Expect(ops.Count == 1 && i.Type.Kind != TypeKind.Void, "convert has one operand");
                break;
            case Opcode.Alloca:
                Expect(ops.Count == 0 && i.Type.IsPointer && i.AllocaSize >= 0, "alloca () → ptr");
                Expect(i.Block == function.Entry, "alloca outside the entry block");
                break;
            case Opcode.Load:
                Expect(ops.Count == 1 && ops[0].Type.IsPointer && i.Type.Kind != TypeKind.Void, "load (ptr) → T");
                break;
            case Opcode.Store:
                Expect(ops.Count == 2 && ops[0].Type.IsPointer && ops[1].Type.Kind != TypeKind.Void, "store (ptr, T)");
                break;
            case Opcode.PtrAdd:
                Expect(ops.Count == 2 && ops[0].Type.IsPointer && ops[1].Type == IRType.Int64 && i.Type.IsPointer, "ptradd (ptr, i64) → ptr");
                break;
            case Opcode.PtrToInt:
                Expect(ops.Count == 1 && ops[0].Type.IsPointer, "ptrtoint (ptr)");
                break;
            case Opcode.IntToPtr:
                Expect(ops.Count == 1 && i.Type.IsPointer, "inttoptr → ptr");
                break;
            case Opcode.AddrSpaceCast:
                Expect(ops.Count == 1 && ops[0].Type.IsPointer && i.Type.IsPointer, "addrspacecast (ptr) → ptr");
                break;
            case Opcode.Call:
                if (i.Callee is null) { Expect(false, "call without callee"); break; }
                Expect(ops.Count == i.Callee.Parameters.Count, "call argument count");
                for (int k = 0; k < Math.Min(ops.Count, i.Callee.Parameters.Count); k++)
                    Expect(Same(ops[k].Type, i.Callee.Parameters[k].Type), $"call argument {k} type");
                Expect(Same(i.Type, i.Callee.ReturnType), "call result type");
                break;
            case Opcode.Extract:
                Expect(ops.Count == 1 && ops[0] is Instruction { Op: Opcode.Intrinsic, Type.Kind: TypeKind.Void } && i.Type.Kind != TypeKind.Void,
                    "extract (multi-result intrinsic) → T");
                break;
            case Opcode.Phi:
                Expect(ops.All(o => Same(o.Type, i.Type)), "phi operands must have the phi's type");
                break;
            case Opcode.Br:
                Expect(ops.Count == 0 && i.Targets.Count == 1, "br has one target");
                break;
            case Opcode.CondBr:
                Expect(ops.Count == 1 && ops[0].Type == IRType.Bool && i.Targets.Count == 2, "condbr (Bool) with two targets");
                break;
            case Opcode.Ret:
                if (function.ReturnType.Kind == TypeKind.Void) Expect(ops.Count == 0, "ret with a value in a void function");
                else Expect(ops.Count == 1 && Same(ops[0].Type, function.ReturnType), "ret value must have the return type");
                break;
        }
        if (!i.IsTerminator && i.Targets.Count > 0) Expect(false, "non-terminator with targets");
    }
}
