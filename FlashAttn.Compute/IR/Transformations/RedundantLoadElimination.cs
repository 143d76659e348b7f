namespace FlashAttn.Compute.IR.Transformations;

/// <summary>
/// A load from device (global) memory that repeats an earlier load of the same address and type in the same block, with
/// nothing between them that may write memory or synchronise (a store, call, atomic, barrier, shuffle, async copy: any
/// instruction with side effects), takes the earlier load's value. Kernels read their inputs only, and a write by another
/// thread between the two without synchronisation would be a data race, so the two loads must agree. This is what merges
/// a modifier's loads of one table entry across the unrolled element loop (ALiBi's slope: one load per block instead of
/// 64). Runs after <see cref="AddressSpaceInference"/> (it needs the pointers' spaces) and value numbering (equal
/// addresses are one value); block-local, so a load behind a branch is left alone.
/// </summary>
public sealed class RedundantLoadElimination : FunctionPass
{
    /// <inheritdoc/>
    public override string Name => "RedundantLoadElimination";

    /// <inheritdoc/>
    public override bool Run(Function function)
    {
        var replacements = new Dictionary<Value, Value>();
        var removed = new HashSet<Instruction>();
        var loaded = new Dictionary<(Value Pointer, IRType Type), Instruction>();
        foreach (var block in function.Blocks)
        {
            loaded.Clear();
            foreach (var instruction in block.Instructions)
            {
                for (int k = 0; k < instruction.Operands.Count; k++)
                    if (replacements.TryGetValue(instruction.Operands[k], out var r)) instruction.Operands[k] = r;
                if (instruction.HasSideEffects)
                {
                    loaded.Clear();
                    continue;
                }
                if (instruction.Op != Opcode.Load || instruction.Operands[0].Type.Space != AddressSpace.Global) continue;
                var key = (instruction.Operands[0], instruction.Type);
                if (loaded.TryGetValue(key, out var earlier))
                {
                    replacements[instruction] = earlier;
                    removed.Add(instruction);
                }
                else loaded[key] = instruction;
            }
        }
        if (removed.Count == 0) return false;
        CfgUtilities.RemoveAll(function, removed);
        function.ReplaceUses(replacements);
        return true;
    }
}
