using FlashAttn.Compute.IR.Analysis;

namespace FlashAttn.Compute.IR.Transformations;

/// <summary>Small control-flow edits shared by the passes.</summary>
internal static class CfgUtilities
{
    /// <summary>Removes the phi entries of <paramref name="block"/> that arrive from <paramref name="predecessor"/>.</summary>
    public static void RemovePhiEntries(BasicBlock block, BasicBlock predecessor)
    {
        foreach (var phi in block.Phis)
            for (int k = phi.PhiBlocks.Count - 1; k >= 0; k--)
                if (phi.PhiBlocks[k] == predecessor)
                {
                    phi.PhiBlocks.RemoveAt(k);
                    phi.Operands.RemoveAt(k);
                }
    }

    /// <summary>Makes phis of <paramref name="block"/> name <paramref name="newPredecessor"/> where they named <paramref name="oldPredecessor"/>.</summary>
    public static void RenamePhiPredecessor(BasicBlock block, BasicBlock oldPredecessor, BasicBlock newPredecessor)
    {
        foreach (var phi in block.Phis)
            for (int k = 0; k < phi.PhiBlocks.Count; k++)
                if (phi.PhiBlocks[k] == oldPredecessor) phi.PhiBlocks[k] = newPredecessor;
    }

    /// <summary>Replaces the terminator of <paramref name="block"/> by a jump to <paramref name="target"/>, dropping phi entries of successors no longer reached.</summary>
    public static void ReplaceTerminatorWithBr(BasicBlock block, BasicBlock target)
    {
        var terminator = block.Terminator!;
        foreach (var successor in terminator.Targets.Distinct().ToList())
            if (successor != target) RemovePhiEntries(successor, block);
        terminator.Block = null;
        block.Instructions.RemoveAt(block.Instructions.Count - 1);
        var br = new Instruction(Opcode.Br, IRType.Void);
        br.Targets.Add(target);
        block.Append(br);
    }

    /// <summary>Removes blocks not reachable from the entry and their phi entries in reachable blocks. Returns true when any was removed.</summary>
    public static bool RemoveUnreachableBlocks(Function function)
    {
        var reachable = new HashSet<BasicBlock>(Dominators.ComputeReversePostOrder(function));
        if (reachable.Count == function.Blocks.Count) return false;
        var dead = function.Blocks.Where(b => !reachable.Contains(b)).ToList();
        var deadSet = new HashSet<BasicBlock>(dead);
        foreach (var block in dead)
            foreach (var successor in block.Successors.Distinct())
                if (reachable.Contains(successor)) RemovePhiEntries(successor, block);
        // Values of dead blocks may still be used by phis of reachable blocks only through dead edges (removed above);
        // any other use would have been invalid SSA.
        foreach (var block in dead)
            foreach (var instruction in block.Instructions) instruction.Block = null;
        function.Blocks.RemoveAll(deadSet.Contains);
        return true;
    }

    /// <summary>A use map: for every value (or only those <paramref name="of"/> accepts), the instructions using it (one entry
    /// per operand slot), in instruction order.</summary>
    public static Dictionary<Value, List<Instruction>> ComputeUsers(Function function, Func<Value, bool>? of = null)
    {
        var users = new Dictionary<Value, List<Instruction>>();
        foreach (var instruction in function.AllInstructions)
            foreach (var operand in instruction.Operands)
            {
                if (of is not null && !of(operand)) continue;
                if (!users.TryGetValue(operand, out var list)) users[operand] = list = [];
                list.Add(instruction);
            }
        return users;
    }

    /// <summary>The zero value of <paramref name="type"/> (stands for undefined values).</summary>
    public static Constant Zero(IRType type) => type.IsFloat ? Constant.FloatOf(type, 0) : Constant.Int(type, 0);

    /// <summary>Removes <paramref name="instruction"/> from its block.</summary>
    public static void Remove(Instruction instruction)
    {
        instruction.Block?.Instructions.Remove(instruction);
        instruction.Block = null;
    }

    /// <summary>Removes every instruction of <paramref name="doomed"/> from <paramref name="function"/>'s blocks, in one pass
    /// over each block.</summary>
    public static void RemoveAll(Function function, IReadOnlySet<Instruction> doomed)
    {
        foreach (var block in function.Blocks)
            block.Instructions.RemoveAll(i =>
            {
                if (!doomed.Contains(i)) return false;
                i.Block = null;
                return true;
            });
    }
}
