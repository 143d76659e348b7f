using System.Globalization;
using System.Text;
using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Backends.Ptx;

/// <summary>
/// Writes one optimized IR kernel as a PTX module: one <c>.visible .entry</c> with a virtual register per
/// SSA value (ptxas allocates the real ones), parameters through <c>ld.param</c> (global pointers then
/// <c>cvta.to.global</c>), loads and stores in the space of their pointer's type, phis as parallel copies
/// at the end of each predecessor (critical edges split into extra labelled blocks).
/// </summary>
/// <remarks>
/// Input contract (what the optimizer guarantees): no <c>Call</c>; pointer types carry their address
/// spaces; shared/local allocation counts are constants; allocas that remain go to <c>.local</c> memory.
/// </remarks>
public static class PtxBackend
{
    /// <summary>Compiles <paramref name="kernel"/> for <paramref name="target"/> with the default options.</summary>
    /// <exception cref="CompilationException">The IR uses something PTX cannot express (see the message).</exception>
    public static PtxModule Emit(Function kernel, PtxTarget target) => Emit(kernel, target, PtxEmitOptions.Default);

    /// <summary>Compiles <paramref name="kernel"/> for <paramref name="target"/>.</summary>
    /// <exception cref="CompilationException">The IR uses something PTX cannot express (see the message).</exception>
    public static PtxModule Emit(Function kernel, PtxTarget target, PtxEmitOptions options)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(options);
        if (kernel.Blocks.Count == 0) throw new CompilationException(kernel.Source, -1, $"PTX backend: kernel {kernel.Name} has no blocks");
        return new KernelWriter(kernel, target, options).Write();
    }

    /// <summary>A PTX-legal identifier from <paramref name="name"/> (letters, digits, '_', '$'; not starting with a digit).</summary>
    public static string SanitizeName(string name)
    {
        var sb = new StringBuilder(name.Length + 1);
        foreach (char c in name)
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or '$' ? c : '_');
        if (sb.Length == 0) return "_kernel";
        if (!char.IsAsciiLetter(sb[0])) sb.Insert(0, '_');
        if (sb.Length == 1 && sb[0] == '_') sb.Append("kernel");
        return sb.ToString();
    }

    private sealed class KernelWriter(Function kernel, PtxTarget target, PtxEmitOptions options)
    {
        private readonly PtxCodeBuilder _b = new(kernel, target, options);
        private readonly List<(string Label, List<(string Dst, Value Src)> Copies, BasicBlock Target)> _edgeBlocks = [];
        private Dictionary<BasicBlock, string> _labels = [];
        private readonly Dictionary<BasicBlock, Dictionary<Instruction, PtxVectorGroup>> _vectorPlans = [];
        private readonly Dictionary<BasicBlock, HashSet<Instruction>> _absorbed = [];

        public PtxModule Write()
        {
            string entry = SanitizeName(kernel.Name);
            var emitter = new PtxInstructionEmitter(_b);
            _labels = kernel.Blocks.Select((block, index) => (block, index))
                .ToDictionary(p => p.block, p => $"$L__BB{p.index}");
            if (options.CoalescePhis && !kernel.Blocks.Any(b => b.Instructions.Exists(i => i is { Op: Opcode.Intrinsic, Intrinsic: IntrinsicOp.KeepPhiCopies })))
                foreach (var members in PtxPhiCoalescing.Classes(kernel, _b.ComponentExtract, VectorPlan))
                {
                    string register = _b.Temp(PtxRegisters.ClassOf(members[0].Type));
                    foreach (var member in members) _b.Registers.Alias(member, register);
                }

            ChainWarpGroupAccumulators();

            var parameters = new List<string>();
            foreach (var parameter in kernel.Parameters)
            {
                string name = $"{entry}_param_{parameter.Index.ToString(CultureInfo.InvariantCulture)}";
                if (parameter.ByValueBytes > 0)
                {
                    // a block the kernel addresses (a tensor map: the grid constant TMA reads); its value is the generic address
                    if ((_b.Target.IsaMajor, _b.Target.IsaMinor).CompareTo((7, 7)) < 0)
                        throw _b.Error($"a by-value kernel parameter ({parameter}) needs PTX ISA 7.7 or newer for cvta.param (target ISA {_b.Target.IsaVersion})");
                    parameters.Add($"\t.param .align 64 .b8 {name}[{parameter.ByValueBytes.ToString(CultureInfo.InvariantCulture)}]");
                    string symbol = _b.Temp(PtxRegisterClass.B64);
                    _b.Emit($"mov.b64 {symbol}, {name}");
                    _b.Emit($"cvta.param.u64 {_b.Def(parameter)}, {symbol}");
                    continue;
                }
                parameters.Add($"\t.param {ParamType(parameter.Type)} {name}");
                LoadParameter(parameter, name);
            }

            for (int index = 0; index < kernel.Blocks.Count; index++)
            {
                var block = kernel.Blocks[index];
                var next = index + 1 < kernel.Blocks.Count ? kernel.Blocks[index + 1] : null;
                _b.Label(_labels[block]);
                if (block.Name.Length > 0) _b.Comment(block.Name);
                var vectors = VectorPlan(block);
                var absorbed = _absorbed[block];
                var terminator = block.Terminator
                    ?? throw _b.Error($"block {block.Name} has no terminator");
                foreach (var instruction in block.Instructions)
                {
                    if (instruction.Op == Opcode.Phi || ReferenceEquals(instruction, terminator)) continue;
                    if (instruction.IsTerminator) throw _b.Error($"terminator {instruction.Op} in the middle of block {block.Name}");
                    if (absorbed.Contains(instruction)) continue;
                    if (vectors.TryGetValue(instruction, out var group)) PtxVectorAccess.Emit(_b, group);
                    else emitter.Emit(instruction);
                }
                Terminate(block, terminator, next);
            }
            foreach (var (label, copies, targetBlock) in _edgeBlocks)
            {
                _b.Label(label);
                ParallelCopy(copies);
                _b.Emit($"bra.uni {_labels[targetBlock]}");
            }

            var text = new StringBuilder();
            text.Append("//\n// Generated by FlashAttn.Compute (PTX backend)\n//\n\n");
            text.Append(".version ").Append(target.IsaVersion).Append('\n');
            text.Append(".target ").Append(target.TargetName).Append(_b.ArchitectureSpecific ? "a" : "").Append('\n');
            text.Append(".address_size 64\n\n");
            foreach (var declaration in _b.ModuleDeclarations) text.Append(declaration).Append('\n');
            if (_b.ModuleDeclarations.Count > 0) text.Append('\n');
            text.Append(".visible .entry ").Append(entry).Append('(');
            if (parameters.Count > 0) text.Append('\n').Append(string.Join(",\n", parameters)).Append('\n');
            text.Append(")\n");
            // Launch bounds let ptxas size the register budget (CUDA's __launch_bounds__).
            if (kernel.MaxThreadsPerGroup > 0) text.Append(".maxntid ").Append(kernel.MaxThreadsPerGroup).Append(", 1, 1\n");
            if (kernel.MinGroupsPerMultiprocessor > 0) text.Append(".minnctapersm ").Append(kernel.MinGroupsPerMultiprocessor).Append('\n');
            text.Append("{\n");
            foreach (var declaration in _b.FunctionDeclarations) text.Append('\t').Append(declaration).Append('\n');
            foreach (var declaration in _b.Registers.Declarations()) text.Append('\t').Append(declaration).Append('\n');
            text.Append('\n').Append(_b.Body).Append("}\n");
            return new PtxModule(text.ToString(), entry, _b.StaticSharedBytes);
        }

        /// <summary>
        /// A warpgroup MMA reads and writes its accumulators in the same registers, and ptxas serialises the products of a
        /// pipeline stage when other instructions define or read those registers in between (C7514, C7515). So where an
        /// accumulator dies at this product, the product's result takes its register: a chain of products into one
        /// accumulator tile is one set of registers, and so is a tile carried around a loop (a phi) or rescaled between two
        /// stages (the multiplies write the registers the next product reads), with no copies after the stage's fence.
        /// </summary>
        private void ChainWarpGroupAccumulators()
        {
            if (!kernel.AllInstructions.Any(i => i.Op == Opcode.Intrinsic && IntrinsicFacts.IsWarpGroupMma(i.Intrinsic))) return;
            foreach (var product in kernel.AllInstructions.ToList())
            {
                if (product.Op != Opcode.Intrinsic || !IntrinsicFacts.IsWarpGroupMma(product.Intrinsic)) continue;
                var operands = IntrinsicFacts.WarpGroupMmaOperands(product);
                var accumulators = product.Operands.Skip(operands.First).Take(operands.Count).ToList();
                for (int k = 0; k < operands.Count; k++)
                    if (accumulators[k] is Instruction accumulator && accumulators.Count(a => ReferenceEquals(a, accumulator)) == 1
                        && DiesAt(accumulator, product) && _b.ComponentExtract(product, k) is { } result)
                        _b.Registers.Alias(result, _b.Registers.Of(accumulator));
            }
        }

        /// <summary>True when no use of <paramref name="value"/> but <paramref name="product"/> is reachable from it before
        /// <paramref name="value"/> is defined again (its block entered anew): a phi's use counts at the end of the edge's
        /// predecessor. Then the product may write its result into the value's register.</summary>
        private static bool DiesAt(Instruction value, Instruction product)
        {
            static bool UsedByPhiFrom(BasicBlock block, Value value)
                => block.Successors.Any(successor => successor.Instructions.Any(i => i.Op == Opcode.Phi
                    && Enumerable.Range(0, i.Operands.Count).Any(k => ReferenceEquals(i.Operands[k], value) && i.PhiBlocks[k] == block)));
            static bool UsedBy(Instruction i, Value value) => i.Op != Opcode.Phi && i.Operands.Any(o => ReferenceEquals(o, value));

            var start = product.Block!;
            int index = start.Instructions.IndexOf(product);
            if (start.Instructions.Skip(index + 1).Any(i => UsedBy(i, value)) || UsedByPhiFrom(start, value)) return false;
            var seen = new HashSet<BasicBlock>();
            var pending = new Stack<BasicBlock>(start.Successors);
            while (pending.Count > 0)
            {
                var block = pending.Pop();
                if (block == value.Block || !seen.Add(block)) continue;
                if (block.Instructions.Any(i => UsedBy(i, value)) || UsedByPhiFrom(block, value)) return false;
                foreach (var successor in block.Successors) pending.Push(successor);
            }
            return true;
        }

        /// <summary>The merged vector accesses of <paramref name="block"/> (<see cref="PtxVectorAccess"/>), keyed by the member where
        /// each is written; planned once (the phi coalescing reads them before the block is written), the other members in
        /// <see cref="_absorbed"/>.</summary>
        private Dictionary<Instruction, PtxVectorGroup> VectorPlan(BasicBlock block)
        {
            if (_vectorPlans.TryGetValue(block, out var plan)) return plan;
            var absorbed = new HashSet<Instruction>(ReferenceEqualityComparer.Instance);
            plan = options.VectorizeMemoryAccess
                ? PtxVectorAccess.Plan(block, absorbed)
                : new Dictionary<Instruction, PtxVectorGroup>(ReferenceEqualityComparer.Instance);
            _absorbed[block] = absorbed;
            return _vectorPlans[block] = plan;
        }

        // A .param holds a scalar exactly as memory does.
        private static string ParamType(IRType type) => PtxInstructionEmitter.MemoryType(type);

        private void LoadParameter(Parameter parameter, string name)
        {
            var type = parameter.Type;
            string d = _b.Def(parameter);
            switch (type.Kind)
            {
                case TypeKind.Bool:
                {
                    string t = _b.Temp(PtxRegisterClass.B16);
                    _b.Emit($"ld.param.u8 {t}, [{name}]");
                    _b.Emit($"setp.ne.b16 {d}, {t}, 0");
                    break;
                }
                case TypeKind.Pointer when type.Space != AddressSpace.Generic:
                {
                    // Kernel arguments are generic addresses; convert to the pointer's window.
                    string t = _b.Temp(PtxRegisterClass.B64);
                    _b.Emit($"ld.param.u64 {t}, [{name}]");
                    _b.Emit($"cvta.to{PtxInstructionEmitter.Space(type)}.u64 {d}, {t}");
                    break;
                }
                default:
                    _b.Emit($"ld.param{ParamType(type)} {d}, [{name}]");
                    break;
            }
        }

        // ---- terminators and phi copies ------------------------------------------------------------

        private void Terminate(BasicBlock block, Instruction terminator, BasicBlock? next)
        {
            switch (terminator.Op)
            {
                case Opcode.Br:
                    Jump(block, terminator.Targets[0], next);
                    break;
                case Opcode.CondBr:
                {
                    BasicBlock ifTrue = terminator.Targets[0], ifFalse = terminator.Targets[1];
                    var condition = terminator.Operands[0];
                    if (condition is Constant c)
                    {
                        Jump(block, c.Bits != 0 ? ifTrue : ifFalse, next);
                        break;
                    }
                    if (ReferenceEquals(ifTrue, ifFalse))
                    {
                        Jump(block, ifTrue, next);
                        break;
                    }
                    string predicate = _b.Reg(condition);
                    var trueCopies = Copies(block, ifTrue);
                    string trueLabel = _labels[ifTrue];
                    if (trueCopies.Count > 0)
                    {
                        trueLabel = _b.NewLabel("E");
                        _edgeBlocks.Add((trueLabel, trueCopies, ifTrue));
                    }
                    _b.Emit($"@{predicate} bra {trueLabel}");
                    Jump(block, ifFalse, next);
                    break;
                }
                case Opcode.Ret:
                    _b.Emit("ret");
                    break;
                case Opcode.Unreachable:
                    _b.Emit("trap");
                    break;
                default:
                    throw _b.Error($"unknown terminator {terminator.Op}");
            }
        }

        /// <summary>The copies of <paramref name="from"/>'s phi operands into <paramref name="to"/>'s phis, then a jump (omitted to the next block).</summary>
        private void Jump(BasicBlock from, BasicBlock to, BasicBlock? next)
        {
            ParallelCopy(Copies(from, to));
            if (!ReferenceEquals(to, next)) _b.Emit($"bra.uni {_labels[to]}");
        }

        private List<(string Dst, Value Src)> Copies(BasicBlock from, BasicBlock to)
        {
            var copies = new List<(string, Value)>();
            foreach (var phi in to.Phis)
            {
                int k = phi.PhiBlocks.FindIndex(p => ReferenceEquals(p, from));
                if (k < 0) throw _b.Error($"phi in {to.Name} has no operand for predecessor {from.Name}");
                copies.Add((_b.Def(phi), phi.Operands[k]));
            }
            return copies;
        }

        /// <summary>
        /// Writes the copies with parallel semantics: a copy is written once no pending copy still reads its
        /// destination; a cycle (e.g. a swap) is broken by saving one destination in a temporary first.
        /// </summary>
        private void ParallelCopy(List<(string Dst, Value Src)> copies)
        {
            // Sources as operand text: a register, or an immediate for constants (mov accepts any).
            var pending = new List<(string Dst, string Src, PtxRegisterClass Class)>();
            foreach (var (dst, src) in copies)
            {
                var cls = PtxRegisters.ClassOf(src.Type);
                string operand = src is Constant c ? PtxCodeBuilder.Immediate(c) : _b.Def(src);
                if (operand != dst) pending.Add((dst, operand, cls));
            }
            while (pending.Count > 0)
            {
                int ready = pending.FindIndex(c => !pending.Any(o => o.Src == c.Dst));
                if (ready >= 0)
                {
                    var copy = pending[ready];
                    _b.Emit($"mov{PtxRegisters.MoveType(copy.Class)} {copy.Dst}, {copy.Src}");
                    pending.RemoveAt(ready);
                    continue;
                }
                // Every destination is still read: save the first one and redirect its readers.
                var (savedDst, _, savedClass) = pending[0];
                string temp = _b.Temp(savedClass);
                _b.Emit($"mov{PtxRegisters.MoveType(savedClass)} {temp}, {savedDst}");
                for (int i = 0; i < pending.Count; i++)
                    if (pending[i].Src == savedDst) pending[i] = (pending[i].Dst, temp, pending[i].Class);
            }
        }
    }
}
