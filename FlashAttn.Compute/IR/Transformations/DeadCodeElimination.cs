namespace FlashAttn.Compute.IR.Transformations;

/// <summary>
/// Removes computations whose results are never needed: a mark-and-sweep from the instructions with
/// side effects (so dead phi cycles go too), after deleting private allocas that are only ever stored to
/// (directly or through constant or variable <c>PtrAdd</c>s), with their stores. <c>CpuBoundsCheck</c> is dropped.
/// </summary>
public sealed class DeadCodeElimination : FunctionPass
{
    /// <inheritdoc/>
    public override string Name => "DeadCodeElimination";

    /// <inheritdoc/>
    public override bool Run(Function function)
    {
        bool changed = RemoveWriteOnlyAllocas(function);
        var live = new HashSet<Instruction>();
        var work = new Stack<Instruction>();
        foreach (var instruction in function.AllInstructions)
            if (instruction.HasSideEffects && instruction is not { Op: Opcode.Intrinsic, Intrinsic: IntrinsicOp.CpuBoundsCheck }
                && live.Add(instruction))
                work.Push(instruction);
        while (work.Count > 0)
            foreach (var operand in work.Pop().Operands)
                if (operand is Instruction used && live.Add(used)) work.Push(used);
        foreach (var block in function.Blocks)
        {
            int removed = block.Instructions.RemoveAll(i =>
            {
                if (live.Contains(i)) return false;
                i.Block = null;
                return true;
            });
            changed |= removed > 0;
        }
        return changed;
    }

    private static bool RemoveWriteOnlyAllocas(Function function)
    {
        var allocas = function.AllInstructions.Where(i => i.Op == Opcode.Alloca).ToList();
        if (allocas.Count == 0) return false;
        // the users of allocas and PtrAdds only, the pointers the walk follows: a map of every value's users, built on
        // each run, was the largest allocation of a compile (its arrays on the large-object heap, whose growth set off
        // full garbage collections)
        var users = CfgUtilities.ComputeUsers(function, v => v is Instruction { Op: Opcode.Alloca or Opcode.PtrAdd });
        var dead = new HashSet<Instruction>();
        foreach (var alloca in allocas)
        {
            var group = new List<Instruction> { alloca };
            bool writeOnly = true;
            var work = new Stack<Instruction>();
            work.Push(alloca);
            while (work.Count > 0 && writeOnly)
            {
                var pointer = work.Pop();
                if (!users.TryGetValue(pointer, out var list)) continue;
                foreach (var user in list.Distinct())
                {
                    if (user.Op == Opcode.Store && user.Operands[0] == pointer && user.Operands[1] != pointer) group.Add(user);
                    else if (user.Op == Opcode.PtrAdd && user.Operands[0] == pointer) { group.Add(user); work.Push(user); }
                    else { writeOnly = false; break; }
                }
            }
            if (writeOnly) dead.UnionWith(group);
        }
        if (dead.Count == 0) return false;
        CfgUtilities.RemoveAll(function, dead);
        return true;
    }
}
