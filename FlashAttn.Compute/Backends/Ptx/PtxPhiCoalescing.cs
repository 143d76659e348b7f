using FlashAttn.Compute.IR;
using FlashAttn.Compute.IR.Analysis;

namespace FlashAttn.Compute.Backends.Ptx;

/// <summary>
/// Leaving SSA with fewer copies: a phi and those of its operands whose live ranges overlap neither it nor each other share
/// one virtual register, so the edges they arrive by need no copy. Most useful where one path passes a value through
/// unchanged and another redefines it (a masked score, a clamped index): the pass-through edge then writes nothing.
/// With a copy on every edge, ptxas near its register limit gave the two paths' values different registers and kept
/// the copies (a tensor-core forward at 255 registers: 24 moves a key block on the path that needed no mask).
/// Only operands that pass through (defined in a block that dominates the phi's) join their phi.
/// </summary>
/// <remarks>
/// Live ranges are taken where the writer puts the code, not where the IR has it: a multi-result intrinsic writes its
/// components at its own position (into the registers of their first Extracts), a merged vector load defines all its
/// members at the first, a merged vector store reads all its operands at the last. A value used by the instruction that
/// defines another counts as overlapping it (an instruction written as several PTX instructions may write its result
/// before it has read every operand).
/// </remarks>
internal sealed class PtxPhiCoalescing
{
    private readonly Dictionary<Value, int> _index = new(ReferenceEqualityComparer.Instance);
    private readonly List<Value> _values = [];
    private readonly Dictionary<Instruction, (BasicBlock Block, int Position)> _emittedAt = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<BasicBlock, bool[]> _liveIn = [], _liveOut = [];
    private readonly Dictionary<BasicBlock, Dictionary<int, int>> _lastUse = [];
    private readonly (BasicBlock Block, int Position)[] _definedAt;

    /// <summary>Definition positions: a parameter before everything, a phi at its block's start.</summary>
    private const int ParameterPosition = -2, PhiPosition = -1;

    private PtxPhiCoalescing(Function function, Func<Instruction, int, Instruction?> firstExtract, Func<BasicBlock, Dictionary<Instruction, PtxVectorGroup>> vectorPlan)
    {
        // where each instruction is written (merged vector accesses at their leader)
        foreach (var block in function.Blocks)
        {
            for (int i = 0; i < block.Instructions.Count; i++) _emittedAt[block.Instructions[i]] = (block, i);
            // a leader is no other group's member, so its own position still stands when its members take it
            foreach (var (leader, group) in vectorPlan(block))
            {
                var at = _emittedAt[leader];
                foreach (var member in group.Members) _emittedAt[member] = at;
            }
        }

        // the values that may share a register: phis and the operands they could share it with
        var duplicatedExtracts = new HashSet<Instruction>(ReferenceEqualityComparer.Instance);
        foreach (var instruction in function.Blocks.SelectMany(b => b.Instructions))
            if (instruction.Op == Opcode.Extract && instruction.Operands[0] is Instruction aggregate
                && firstExtract(aggregate, instruction.Index) is { } first && !ReferenceEquals(first, instruction))
                duplicatedExtracts.Add(first); // read again by a later Extract's copy, which the IR does not show
        foreach (var phi in function.Blocks.SelectMany(b => b.Phis))
        {
            if (!PtxRegisters.HasClass(phi.Type)) continue;
            Add(phi);
            foreach (var operand in phi.Operands)
                if (operand is Parameter || (operand is Instruction i && i.Op != Opcode.Phi && !duplicatedExtracts.Contains(i)))
                    Add(operand);
                else if (operand is Instruction { Op: Opcode.Phi } other)
                    Add(other);
        }

        _definedAt = new (BasicBlock, int)[_values.Count];
        for (int v = 0; v < _values.Count; v++)
            _definedAt[v] = _values[v] switch
            {
                Parameter => (function.Entry, ParameterPosition),
                Instruction { Op: Opcode.Phi } phi => (phi.Block!, PhiPosition),
                Instruction { Op: Opcode.Extract, Operands: [Instruction aggregate, ..] } extract
                    when ReferenceEquals(firstExtract(aggregate, extract.Index), extract) => _emittedAt[aggregate],
                Instruction instruction => _emittedAt[instruction],
                _ => throw new InvalidOperationException("a constant cannot share a register"),
            };
        ComputeLiveness(function);
    }

    /// <summary>The sets of values that share a register (each with at least two members).</summary>
    public static List<List<Value>> Classes(Function function, Func<Instruction, int, Instruction?> firstExtract,
        Func<BasicBlock, Dictionary<Instruction, PtxVectorGroup>> vectorPlan)
    {
        var analysis = new PtxPhiCoalescing(function, firstExtract, vectorPlan);
        var dominators = new Dominators(function);
        var classOf = new Dictionary<Value, List<Value>>(ReferenceEqualityComparer.Instance);
        List<Value> ClassOf(Value v) => classOf.TryGetValue(v, out var c) ? c : classOf[v] = [v];
        foreach (var block in function.Blocks)
            foreach (var phi in block.Phis)
            {
                if (!analysis._index.ContainsKey(phi)) continue;
                // only operands that pass through: defined in a block that dominates the phi's. Any operand (loop-carried ones,
                // those of the other arm) gave ptxas 11.8 more spills in some kernels (the 3×TF32 d' = 128 backward: 20 → 584 bytes)
                var operands = phi.Operands.Where(v => analysis._index.ContainsKey(v) && PassesThrough(v, block, dominators))
                    .Distinct(ReferenceEqualityComparer.Instance).Cast<Value>().ToList();
                foreach (var operand in operands)
                {
                    var mine = ClassOf(phi);
                    var theirs = ClassOf(operand);
                    if (ReferenceEquals(mine, theirs) || mine.Any(a => theirs.Any(b => analysis.Interfere(a, b)))) continue;
                    mine.AddRange(theirs);
                    foreach (var v in theirs) classOf[v] = mine;
                }
            }
        return classOf.Values.Distinct().Where(c => c.Count > 1).ToList();
    }

    private static bool PassesThrough(Value operand, BasicBlock phiBlock, Dominators dominators) => operand switch
    {
        Parameter => true,
        Instruction { Block: { } block } => !ReferenceEquals(block, phiBlock) && dominators.IsReachable(block) && dominators.Dominates(block, phiBlock),
        _ => false,
    };

    private void Add(Value value)
    {
        if (_index.ContainsKey(value)) return;
        _index[value] = _values.Count;
        _values.Add(value);
    }

    /// <summary>Backward liveness of the candidate values over the blocks; a phi's operand is live out of its predecessor
    /// only (the copy is on that edge), a phi is defined at its block's start.</summary>
    private void ComputeLiveness(Function function)
    {
        int n = _values.Count;
        var upwardExposed = new Dictionary<BasicBlock, bool[]>();
        var defined = new Dictionary<BasicBlock, bool[]>();
        var phiUses = new Dictionary<(BasicBlock From, BasicBlock To), List<int>>();
        foreach (var block in function.Blocks)
        {
            var exposed = new bool[n];
            var defs = new bool[n];
            var lastUse = new Dictionary<int, int>();
            foreach (var instruction in block.Instructions)
            {
                if (instruction.Op == Opcode.Phi)
                {
                    for (int k = 0; k < instruction.Operands.Count; k++)
                        if (_index.TryGetValue(instruction.Operands[k], out int u))
                        {
                            var edge = (instruction.PhiBlocks[k], block);
                            if (!phiUses.TryGetValue(edge, out var list)) phiUses[edge] = list = [];
                            list.Add(u);
                        }
                    continue;
                }
                int at = _emittedAt[instruction].Position;
                foreach (var operand in instruction.Operands)
                    if (_index.TryGetValue(operand, out int u))
                    {
                        lastUse[u] = Math.Max(lastUse.GetValueOrDefault(u, int.MinValue), at);
                        if (!ReferenceEquals(_definedAt[u].Block, block)) exposed[u] = true;
                    }
            }
            upwardExposed[block] = exposed;
            defined[block] = defs;
            _lastUse[block] = lastUse;
            _liveIn[block] = new bool[n];
            _liveOut[block] = new bool[n];
        }
        for (int v = 0; v < n; v++) defined[_definedAt[v].Block][v] = true;
        bool changed = true;
        while (changed)
        {
            changed = false;
            for (int b = function.Blocks.Count - 1; b >= 0; b--)
            {
                var block = function.Blocks[b];
                var liveOut = _liveOut[block];
                foreach (var successor in block.Successors)
                {
                    var liveIn = _liveIn[successor];
                    for (int v = 0; v < n; v++)
                        if (liveIn[v] && !liveOut[v]) { liveOut[v] = true; changed = true; }
                    if (phiUses.TryGetValue((block, successor), out var uses))
                        foreach (int v in uses)
                            if (!liveOut[v]) { liveOut[v] = true; changed = true; }
                }
                var inSet = _liveIn[block];
                var exposed = upwardExposed[block];
                var defs = defined[block];
                for (int v = 0; v < n; v++)
                    if (!inSet[v] && (exposed[v] || (liveOut[v] && !defs[v]))) { inSet[v] = true; changed = true; }
            }
        }
    }

    /// <summary>True when one of the two is still needed where the other is written.</summary>
    private bool Interfere(Value a, Value b)
    {
        int x = _index[a], y = _index[b];
        if (_definedAt[x] == _definedAt[y]) return true; // written together (one instruction, or one block's phis)
        return LiveWhereDefined(x, y) || LiveWhereDefined(y, x);
    }

    /// <summary>Whether value <paramref name="v"/> is live just before the definition of <paramref name="other"/>,
    /// its use by that definition included.</summary>
    private bool LiveWhereDefined(int v, int other)
    {
        var (block, position) = _definedAt[other];
        if (position < 0) return _liveIn[block][v] || (ReferenceEquals(_definedAt[v].Block, block) && _definedAt[v].Position < position);
        var (defBlock, defPosition) = _definedAt[v];
        if (ReferenceEquals(defBlock, block) && defPosition >= position) return false; // not yet defined there
        if (!ReferenceEquals(defBlock, block) && !_liveIn[block][v]) return false;
        return _liveOut[block][v] || (_lastUse[block].TryGetValue(v, out int last) && last >= position);
    }
}
