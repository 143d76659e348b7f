namespace FlashAttn.Compute.IR.Transformations;

/// <summary>
/// Control-flow clean-up: removes unreachable blocks, folds conditional branches on constants or to one
/// target, merges a block into its only predecessor when that predecessor has no other successor, removes
/// empty forwarding blocks and trivial phis. Repeats until nothing changes.
/// </summary>
public sealed class SimplifyCfg : FunctionPass
{
    /// <inheritdoc/>
    public override string Name => "SimplifyCfg";

    /// <inheritdoc/>
    public override bool Run(Function function)
    {
        bool any = false;
        for (int round = 0; round < 1000; round++)
        {
            bool changed = CfgUtilities.RemoveUnreachableBlocks(function);
            changed |= FoldBranches(function);
            changed |= RemoveTrivialPhis(function);
            changed |= MergeBlocks(function);
            changed |= RemoveForwardingBlocks(function);
            if (!changed) break;
            any = true;
        }
        return any;
    }

    private static bool FoldBranches(Function function)
    {
        bool changed = false;
        foreach (var block in function.Blocks)
        {
            var terminator = block.Terminator;
            if (terminator is not { Op: Opcode.CondBr }) continue;
            if (terminator.Targets[0] == terminator.Targets[1])
                CfgUtilities.ReplaceTerminatorWithBr(block, terminator.Targets[0]);
            else if (terminator.Operands[0] is Constant c)
                CfgUtilities.ReplaceTerminatorWithBr(block, terminator.Targets[c.Bits != 0 ? 0 : 1]);
            else continue;
            changed = true;
        }
        return changed;
    }

    /// <summary>Replaces phis whose incoming values are all one value (or the phi itself) by that value.</summary>
    internal static bool RemoveTrivialPhis(Function function)
    {
        var replacements = new Dictionary<Value, Value>();
        bool changed = false;
        bool progress = true;
        while (progress)
        {
            progress = false;
            foreach (var block in function.Blocks)
            {
                foreach (var phi in block.Phis.ToList())
                {
                    Value? same = null;
                    bool trivial = true;
                    foreach (var raw in phi.Operands)
                    {
                        var operand = Resolve(replacements, raw);
                        if (operand == phi) continue;
                        if (same is null || operand == same || (operand is Constant a && same is Constant b && a.SameAs(b))) { same ??= operand; continue; }
                        trivial = false;
                        break;
                    }
                    if (!trivial || same is null) continue;
                    replacements[phi] = same;
                    CfgUtilities.Remove(phi);
                    progress = changed = true;
                }
            }
        }
        function.ReplaceUses(replacements);
        return changed;
    }

    private static Value Resolve(Dictionary<Value, Value> map, Value v)
    {
        while (map.TryGetValue(v, out var next)) v = next;
        return v;
    }

    /// <summary>Merges B into P when P → B is P's only edge and B's only incoming edge.</summary>
    private static bool MergeBlocks(Function function)
    {
        bool changed = false;
        var predecessors = function.ComputePredecessors();
        var removed = new HashSet<BasicBlock>();
        // phis of merged blocks, replaced in one sweep at the end (chains resolve there): a sweep per merge was quadratic
        var replacements = new Dictionary<Value, Value>();
        foreach (var block in function.Blocks)
        {
            if (block == function.Entry || removed.Contains(block)) continue;
            var preds = predecessors[block];
            if (preds.Count != 1) continue;
            var pred = preds[0];
            if (pred == block || removed.Contains(pred) || pred.Terminator is not { Op: Opcode.Br }) continue;
            // Phis of a single-predecessor block are copies.
            foreach (var phi in block.Phis.ToList())
            {
                replacements[phi] = phi.Operands[0];
                CfgUtilities.Remove(phi);
            }
            var br = pred.Terminator!;
            pred.Instructions.RemoveAt(pred.Instructions.Count - 1);
            br.Block = null;
            foreach (var instruction in block.Instructions) pred.Append(instruction);
            block.Instructions.Clear();
            foreach (var successor in pred.Successors.Distinct())
            {
                CfgUtilities.RenamePhiPredecessor(successor, block, pred);
                predecessors[successor] = predecessors[successor].Select(p => p == block ? pred : p).Distinct().ToList();
            }
            removed.Add(block);
            changed = true;
        }
        function.Blocks.RemoveAll(removed.Contains);
        function.ReplaceUses(replacements);
        return changed;
    }

    /// <summary>Removes blocks holding only "br S": their predecessors jump to S directly. The predecessor map is computed
    /// once and kept current (S loses the block and gains its predecessors); recomputing it per block was quadratic.</summary>
    private static bool RemoveForwardingBlocks(Function function)
    {
        bool changed = false;
        var predecessors = function.ComputePredecessors();
        var removed = new HashSet<BasicBlock>();
        foreach (var block in function.Blocks)
        {
            if (block == function.Entry || block.Instructions.Count != 1 || block.Terminator is not { Op: Opcode.Br } br) continue;
            var target = br.Targets[0];
            if (target == block) continue;
            var preds = predecessors[block];
            if (preds.Count == 0) continue;
            var targetPreds = predecessors[target];
            var phis = target.Phis.ToList();
            // A predecessor already jumping to the target must bring the same phi values as through this block.
            bool conflict = false;
            foreach (var pred in preds)
            {
                if (!targetPreds.Contains(pred)) continue;
                foreach (var phi in phis)
                    if (!SameValue(phi.Operands[phi.PhiBlocks.IndexOf(pred)], phi.Operands[phi.PhiBlocks.IndexOf(block)]))
                        conflict = true;
            }
            if (conflict) continue;
            foreach (var phi in phis)
            {
                int index = phi.PhiBlocks.IndexOf(block);
                var value = phi.Operands[index];
                phi.PhiBlocks.RemoveAt(index);
                phi.Operands.RemoveAt(index);
                foreach (var pred in preds)
                    if (!phi.PhiBlocks.Contains(pred))
                    {
                        phi.PhiBlocks.Add(pred);
                        phi.Operands.Add(value);
                    }
            }
            foreach (var pred in preds)
            {
                var targets = pred.Terminator!.Targets;
                for (int k = 0; k < targets.Count; k++)
                    if (targets[k] == block) targets[k] = target;
            }
            targetPreds.Remove(block);
            foreach (var pred in preds)
                if (!targetPreds.Contains(pred)) targetPreds.Add(pred);
            preds.Clear();
            br.Block = null;
            block.Instructions.Clear();
            removed.Add(block);
            changed = true;
        }
        if (removed.Count > 0) function.Blocks.RemoveAll(removed.Contains);
        return changed;
    }

    private static bool SameValue(Value a, Value b) => a == b || (a is Constant x && b is Constant y && x.SameAs(y));
}
