using FlashAttn.Compute.IR.Analysis;

namespace FlashAttn.Compute.IR.Transformations;

/// <summary>
/// Full unrolling of natural loops whose trip count is a compile-time constant. A candidate loop has one
/// latch and one exit edge (a preheader is inserted when the header is entered from several outside blocks), leaving from the header (top test, the shape Roslyn gives
/// <c>for</c> loops: <c>br COND; BODY: …; COND: if (i &lt; n) goto BODY</c>) or from the latch (bottom
/// test, <c>do … while</c>). The header phis are simulated from their constant initial values — any pure
/// computation of them and of constants, e.g. <c>i ± c</c>, <c>i · 2</c>, any <see cref="CompareKind"/> — until
/// the exit condition leaves the loop. The loop is then replaced by one copy of its blocks per
/// iteration, each copy's header phis replaced by the previous copy's latch values, the exit branch of
/// each copy folded, and uses after the loop rewired to the last copy. Innermost loops first; repeats so
/// outer loops unroll once their inner loops are gone.
/// </summary>
public sealed class LoopUnrolling : FunctionPass
{
    /// <summary>Largest trip count unrolled.</summary>
    public int MaxTripCount { get; init; } = 1024;

    /// <summary>Largest number of instructions one unrolling may create.</summary>
    public int MaxInstructions { get; init; } = 20_000;

    /// <inheritdoc/>
    public override string Name => "LoopUnrolling";

    /// <inheritdoc/>
    public override bool Run(Function function)
    {
        bool any = false;
        var rejected = new HashSet<BasicBlock>();   // headers of loops that cannot be unrolled
        for (int round = 0; round < 10_000; round++)
        {
            // One analysis per round, not per unrolled loop (in unrolled straight-line code each one walks thousands of
            // blocks): innermost loops are disjoint, so unrolling one leaves the others' blocks as they were, and only
            // their edges to the outside are read again from the CFG as it now is (Refreshed).
            var loops = new LoopInfo(new Dominators(function));
            bool unrolled = false;
            foreach (var loop in loops.Innermost.OrderBy(l => -l.Depth))
            {
                if (rejected.Contains(loop.Header)) continue;
                if (TryUnroll(function, unrolled ? Refreshed(function, loop) : loop)) unrolled = any = true;
                else rejected.Add(loop.Header);
            }
            if (!unrolled) break;
        }
        return any;
    }

    /// <summary>
    /// <paramref name="loop"/>'s exit edges and preheader read again from the function's blocks, after another loop of the
    /// round unrolled (its blocks, header and latches are untouched: innermost loops are disjoint; an edge out of it may
    /// now lead to that loop's new preheader, and the block before it may be gone). Every block is reachable then: each
    /// unrolling ends by removing the unreachable ones.
    /// </summary>
    private static Loop Refreshed(Function function, Loop loop)
    {
        var fresh = new Loop(loop.Header) { Parent = loop.Parent };
        fresh.Blocks.UnionWith(loop.Blocks);
        fresh.Latches.AddRange(loop.Latches);
        foreach (var block in function.Blocks)
        {
            if (!loop.Blocks.Contains(block)) continue;
            foreach (var successor in block.Successors)
                if (!loop.Blocks.Contains(successor)) fresh.ExitEdges.Add((block, successor));
        }
        var outside = function.Blocks.Where(b => !loop.Blocks.Contains(b) && b.Successors.Contains(loop.Header)).ToList();
        fresh.Preheader = outside.Count == 1 ? outside[0] : null;
        return fresh;
    }

    /// <summary>The value <paramref name="phi"/> receives from every block of <paramref name="from"/>, when they all agree; else null.</summary>
    private static Value? CommonEntry(Instruction phi, List<BasicBlock> from)
    {
        Value? common = null;
        for (int e = 0; e < phi.PhiBlocks.Count; e++)
        {
            if (!from.Contains(phi.PhiBlocks[e])) continue;
            if (common is not null && !SameValue(common, phi.Operands[e])) return null;
            common = phi.Operands[e];
        }
        return common;
    }

    private static bool SameValue(Value a, Value b)
        => a == b || (a is Constant x && b is Constant y && x.SameAs(y));

    /// <summary>
    /// A new block between <paramref name="outside"/> and the loop header: the outside edges go to it, and each header
    /// phi takes one entry from it (the common value, or a phi in the new block over the outside entries).
    /// </summary>
    private static BasicBlock InsertPreheader(Function function, BasicBlock header, List<BasicBlock> outside)
    {
        var preheader = function.AddBlock($"{header.Name}.preheader");
        function.Blocks.Remove(preheader);
        function.Blocks.Insert(function.Blocks.IndexOf(header), preheader);
        var builder = new IRBuilder(preheader);
        foreach (var phi in header.Phis.ToList())
        {
            var entering = Enumerable.Range(0, phi.PhiBlocks.Count).Where(e => outside.Contains(phi.PhiBlocks[e])).ToList();
            Value value;
            if (CommonEntry(phi, outside) is { } common) value = common;
            else
            {
                var merge = builder.Phi(phi.Type);
                foreach (int e in entering)
                {
                    merge.PhiBlocks.Add(phi.PhiBlocks[e]);
                    merge.Operands.Add(phi.Operands[e]);
                }
                value = merge;
            }
            for (int k = entering.Count - 1; k >= 0; k--)
            {
                phi.PhiBlocks.RemoveAt(entering[k]);
                phi.Operands.RemoveAt(entering[k]);
            }
            phi.PhiBlocks.Add(preheader);
            phi.Operands.Add(value);
        }
        builder.Br(header);
        foreach (var block in outside)
        {
            var targets = block.Terminator!.Targets;
            for (int t = 0; t < targets.Count; t++)
                if (targets[t] == header) targets[t] = preheader;
        }
        return preheader;
    }

    private bool TryUnroll(Function function, Loop loop)
    {
        var header = loop.Header;
        if (loop.Latches.Count != 1 || loop.ExitEdges.Count != 1) return false;
        // Without a preheader (the header entered from several outside blocks, e.g. right after an if whose body
        // holds a loop) the simulation starts from the values all outside entries agree on; the preheader is made
        // only once the loop is known to unroll, so a loop that stays rolled leaves the CFG as it was.
        var preheader = loop.Preheader;
        var entries = preheader is null
            ? function.Blocks.Where(b => !loop.Blocks.Contains(b) && b.Successors.Contains(header)).ToList()
            : [preheader];
        if (entries.Count == 0) return false;
        var latch = loop.Latches[0];
        var (exiting, exit) = loop.ExitEdges[0];
        if (exiting != header && exiting != latch) return false;
        if (exiting.Terminator is not { Op: Opcode.CondBr } exitBranch || exitBranch.Targets[0] == exitBranch.Targets[1]) return false;
        if (latch.Terminator is not { } latchTerminator) return false;
        if (exiting != latch && latchTerminator.Op != Opcode.Br) return false;
        bool exitWhenTrue = !loop.Blocks.Contains(exitBranch.Targets[0]);
        var stayTarget = exitBranch.Targets[exitWhenTrue ? 1 : 0];
        var phis = header.Phis.ToList();
        int bodySize = loop.Blocks.Sum(b => b.Instructions.Count);

        // Simulate: how many times is the header entered?
        var state = new Dictionary<Instruction, Constant>();
        foreach (var phi in phis)
            if (CommonEntry(phi, entries) is Constant c) state[phi] = c;
        int copies = 0;
        while (true)
        {
            copies++;
            if (copies > MaxTripCount + 1 || (long)copies * bodySize > MaxInstructions) return false;
            var cache = new Dictionary<Value, Constant?>();
            if (Evaluate(exitBranch.Operands[0], loop, state, cache, 0) is not { } condition) return false;
            if ((condition.Bits != 0) == exitWhenTrue) break;
            var next = new Dictionary<Instruction, Constant>();
            foreach (var phi in phis)
                if (Evaluate(phi.Operands[phi.PhiBlocks.IndexOf(latch)], loop, state, cache, 0) is { } v) next[phi] = v;
            state = next;
        }

        preheader ??= InsertPreheader(function, header, entries);

        // Clone the loop once per header entry.
        var loopBlocks = function.Blocks.Where(loop.Blocks.Contains).ToList();
        var copyMaps = new List<Dictionary<Value, Value>>();
        var copyBlocks = new List<Dictionary<BasicBlock, BasicBlock>>();
        var newBlocks = new List<BasicBlock>();
        for (int k = 0; k < copies; k++)
        {
            var map = new Dictionary<Value, Value>();
            var blocks = new Dictionary<BasicBlock, BasicBlock>();
            foreach (var block in loopBlocks)
            {
                var clone = new BasicBlock(function, $"{block.Name}.u{k}");
                blocks[block] = clone;
                newBlocks.Add(clone);
            }
            foreach (var phi in phis)
                map[phi] = k == 0
                    ? phi.Operands[phi.PhiBlocks.IndexOf(preheader)]
                    : Lookup(copyMaps[k - 1], phi.Operands[phi.PhiBlocks.IndexOf(latch)]);
            var created = new List<Instruction>();
            foreach (var block in loopBlocks)
            {
                var clone = blocks[block];
                foreach (var original in block.Instructions)
                {
                    if (block == header && original.Op == Opcode.Phi) continue;
                    var copy = new Instruction(original.Op, original.Type, [.. original.Operands]);
                    copy.CopyAttributesFrom(original);
                    foreach (var from in original.PhiBlocks) copy.PhiBlocks.Add(blocks[from]);
                    map[original] = copy;
                    created.Add(copy);
                    if (original == exitBranch)
                    {
                        // Folded: the last copy leaves, the others stay.
                        copy = new Instruction(Opcode.Br, IRType.Void);
                        copy.Targets.Add(k == copies - 1 ? exit : stayTarget == header ? header : blocks[stayTarget]);   // header: fixed below
                    }
                    else if (original == latchTerminator)
                    {
                        // The back edge goes to the next copy's header; the last copy never takes it.
                        if (k == copies - 1) copy = new Instruction(Opcode.Unreachable, IRType.Void);
                        else copy.Targets.Add(header);   // fixed below, once the next copy exists
                    }
                    else
                        foreach (var target in original.Targets) copy.Targets.Add(blocks[target]);
                    clone.Append(copy);
                }
            }
            foreach (var instruction in created)
                for (int o = 0; o < instruction.Operands.Count; o++) instruction.Operands[o] = Lookup(map, instruction.Operands[o]);
            copyMaps.Add(map);
            copyBlocks.Add(blocks);
        }
        for (int k = 0; k + 1 < copies; k++)
        {
            var terminator = copyBlocks[k][latch].Terminator!;
            for (int t = 0; t < terminator.Targets.Count; t++)
                if (terminator.Targets[t] == header) terminator.Targets[t] = copyBlocks[k + 1][header];
        }

        // Wire the copies in: preheader → first copy; exit phis from the last copy's exiting block.
        var entryTargets = preheader.Terminator!.Targets;
        for (int t = 0; t < entryTargets.Count; t++)
            if (entryTargets[t] == header) entryTargets[t] = copyBlocks[0][header];
        var last = copyMaps[copies - 1];
        foreach (var phi in exit.Phis)
            for (int e = 0; e < phi.PhiBlocks.Count; e++)
                if (phi.PhiBlocks[e] == exiting)
                {
                    phi.PhiBlocks[e] = copyBlocks[copies - 1][exiting];
                    phi.Operands[e] = Lookup(last, phi.Operands[e]);
                }
        int at = function.Blocks.IndexOf(header);
        function.Blocks.RemoveAll(loop.Blocks.Contains);
        function.Blocks.InsertRange(Math.Min(at, function.Blocks.Count), newBlocks);
        foreach (var block in loopBlocks)
            foreach (var instruction in block.Instructions) instruction.Block = null;

        // Uses after the loop read the last iteration's values. The loop's instructions are detached now (no block), so
        // only operands that are detached instructions are looked up: a lookup of every operand of the function, once per
        // unrolled loop, was a third of the pass
        foreach (var instruction in function.AllInstructions)
        {
            var operands = instruction.Operands;
            for (int o = 0; o < operands.Count; o++)
                if (operands[o] is Instruction { Block: null } old && last.TryGetValue(old, out var value)) operands[o] = value;
        }
        CfgUtilities.RemoveUnreachableBlocks(function);
        return true;
    }

    private static Value Lookup(Dictionary<Value, Value> map, Value v) => map.TryGetValue(v, out var m) ? m : v;

    /// <summary>The constant value of <paramref name="value"/> in the iteration whose header phis are <paramref name="state"/>, or null.</summary>
    private static Constant? Evaluate(Value value, Loop loop, Dictionary<Instruction, Constant> state, Dictionary<Value, Constant?> cache, int depth)
    {
        if (value is Constant c) return c;
        if (value is not Instruction i || depth > 64) return null;
        if (cache.TryGetValue(i, out var known)) return known;
        Constant? result = null;
        if (i.Op == Opcode.Phi)
            result = i.Block == loop.Header && state.TryGetValue(i, out var s) ? s : null;
        else if (i.Block is { } block && loop.Blocks.Contains(block) && !i.HasSideEffects
            && i.Op is not (Opcode.Load or Opcode.Alloca or Opcode.Intrinsic or Opcode.Extract or Opcode.Call))
        {
            var operands = new List<Constant>();
            foreach (var operand in i.Operands)
            {
                if (Evaluate(operand, loop, state, cache, depth + 1) is not { } k) { operands = null; break; }
                operands.Add(k);
            }
            if (operands is not null) result = ConstantEvaluator.Evaluate(i, operands);
        }
        cache[i] = result;
        return result;
    }
}
