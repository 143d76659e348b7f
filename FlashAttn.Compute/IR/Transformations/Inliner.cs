namespace FlashAttn.Compute.IR.Transformations;

/// <summary>
/// Inlines every <c>Call</c>. The callee is never modified: its blocks are cloned with a value map
/// (parameters → arguments), each <c>Ret</c> becomes a jump to a continuation block holding the call's
/// remaining instructions (a phi merges return values), and the callee's allocas move to the caller's
/// entry block. Repeats until no call remains (callees may call further functions).
/// </summary>
public sealed class Inliner : FunctionPass
{
    /// <summary>Guards against recursion the frontend failed to reject.</summary>
    public int MaxInlinedCalls { get; init; } = 10_000;

    /// <inheritdoc/>
    public override string Name => "Inliner";

    /// <inheritdoc/>
    public override bool Run(Function function)
    {
        // One forward walk: inlining a call ends its block there and queues the callee's clones and the continuation
        // to come right after it, so the walk reaches nested calls and the rest of the block next (rescanning the
        // whole function after every call was quadratic in the number of calls). The walk builds the block list as it
        // goes and the hoisted allocas join the entry once at the end: inserting into the function's list and the
        // entry block per call was quadratic too (a third of the pass at d = 128 on the tensor cores).
        // Call results are replaced once at the end (chains resolve there): a whole-function rewrite per call was
        // the other quadratic part.
        int count = 0;
        var replacements = new Dictionary<Value, Value>();
        var hoisted = new List<Instruction>();
        var ordered = new List<BasicBlock>(function.Blocks.Count);
        var pending = new Stack<BasicBlock>();
        for (int b = function.Blocks.Count - 1; b >= 0; b--) pending.Push(function.Blocks[b]);
        while (pending.Count > 0)
        {
            var block = pending.Pop();
            ordered.Add(block);
            var call = block.Instructions.FirstOrDefault(i => i.Op == Opcode.Call);
            if (call is null) continue;
            if (++count > MaxInlinedCalls)
                throw new CompilationException($"Inlining into '{function.Name}' did not terminate (recursive calls to '{call.Callee?.Name}').");
            if (call.Callee == function)
                throw new CompilationException($"'{function.Name}' calls itself; recursion is not supported.");
            var (clones, continuation) = InlineCall(function, call, replacements, hoisted);
            pending.Push(continuation);
            for (int k = clones.Count - 1; k >= 0; k--) pending.Push(clones[k]);
        }
        if (count == 0) return false;
        function.Blocks.Clear();
        function.Blocks.AddRange(ordered);
        var entry = function.Entry;
        int insertAt = entry.Instructions.TakeWhile(i => i.Op is Opcode.Phi or Opcode.Alloca).Count();
        foreach (var alloca in hoisted) alloca.Block = entry;
        entry.Instructions.InsertRange(insertAt, hoisted);
        function.ReplaceUses(replacements);
        return true;
    }

    /// <summary>Inlines <paramref name="call"/>: its block ends in a jump to the callee's clones, which return to a
    /// continuation holding the rest of the block; the callee's allocas go to <paramref name="hoisted"/>.</summary>
    private static (List<BasicBlock> Clones, BasicBlock Continuation) InlineCall(Function caller, Instruction call,
        Dictionary<Value, Value> replacements, List<Instruction> hoisted)
    {
        var callee = call.Callee ?? throw new InvalidOperationException("Call without a callee.");
        if (callee.Blocks.Count == 0) throw new CompilationException($"Callee '{callee.Name}' has no body.");
        var block = call.Block!;
        int callIndex = block.Instructions.IndexOf(call);

        // Continuation: everything after the call.
        var continuation = new BasicBlock(caller, block.Name + ".cont");
        for (int k = callIndex + 1; k < block.Instructions.Count; k++) continuation.Append(block.Instructions[k]);
        block.Instructions.RemoveRange(callIndex, block.Instructions.Count - callIndex);
        call.Block = null;
        foreach (var successor in continuation.Successors.Distinct())
            CfgUtilities.RenamePhiPredecessor(successor, block, continuation);

        // Clone the callee.
        var map = new Dictionary<Value, Value>();
        for (int k = 0; k < callee.Parameters.Count; k++) map[callee.Parameters[k]] = call.Operands[k];
        var blockMap = new Dictionary<BasicBlock, BasicBlock>();
        var clones = new List<BasicBlock>();
        foreach (var calleeBlock in callee.Blocks)
        {
            var clone = new BasicBlock(caller, callee.Name + "." + calleeBlock.Name);
            blockMap[calleeBlock] = clone;
            clones.Add(clone);
        }
        var returnValues = new List<(Value Value, BasicBlock From)>();
        foreach (var calleeBlock in callee.Blocks)
        {
            var clone = blockMap[calleeBlock];
            foreach (var original in calleeBlock.Instructions)
            {
                var copy = new Instruction(original.Op, original.Type, [.. original.Operands]);
                copy.CopyAttributesFrom(original);
                foreach (var target in original.Targets) copy.Targets.Add(blockMap[target]);
                foreach (var from in original.PhiBlocks) copy.PhiBlocks.Add(blockMap[from]);
                map[original] = copy;
                if (original.Op == Opcode.Ret)
                {
                    var br = new Instruction(Opcode.Br, IRType.Void);
                    br.Targets.Add(continuation);
                    clone.Append(br);
                    if (original.Operands.Count > 0) returnValues.Add((original.Operands[0], clone));
                    continue;
                }
                if (original.Op == Opcode.Alloca) hoisted.Add(copy);
                else clone.Append(copy);
            }
        }
        foreach (var clone in clones)
            foreach (var instruction in clone.Instructions)
                for (int k = 0; k < instruction.Operands.Count; k++)
                    if (map.TryGetValue(instruction.Operands[k], out var mapped)) instruction.Operands[k] = mapped;

        // The call jumps into the clone's entry (the allocas join the caller's entry block after the walk).
        var jump = new Instruction(Opcode.Br, IRType.Void);
        jump.Targets.Add(clones[0]);
        block.Append(jump);

        // The result (replaced by the caller of this method, once for all calls).
        if (call.Type.Kind != TypeKind.Void)
        {
            var values = returnValues.Select(r => map.TryGetValue(r.Value, out var m) ? m : r.Value).ToList();
            if (values.Count == 0) replacements[call] = CfgUtilities.Zero(call.Type);
            else
            {
                var phi = new Instruction(Opcode.Phi, call.Type);
                for (int k = 0; k < values.Count; k++)
                {
                    phi.Operands.Add(values[k]);
                    phi.PhiBlocks.Add(returnValues[k].From);
                }
                continuation.Insert(0, phi);
                replacements[call] = phi;
            }
        }
        return (clones, continuation);
    }
}
