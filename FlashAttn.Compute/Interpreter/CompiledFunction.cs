using System.Runtime.CompilerServices;
using FlashAttn.Compute.IR;
using FlashAttn.Compute.Runtime.Cpu;
using static FlashAttn.Compute.Interpreter.RegisterEncoding;

namespace FlashAttn.Compute.Interpreter;

/// <summary>
/// A <see cref="Function"/> turned once into closures over a register array: one register per value id
/// (after <see cref="Function.Renumber"/>) plus one per distinct constant, preset in a template copied
/// per activation. Blocks run their instructions in order; a branch copies the target's phi inputs for
/// that edge all at once (parallel copy), then continues in the target.
/// </summary>
internal sealed unsafe class CompiledFunction
{
    private sealed class Block
    {
        public InterpreterOp[] Body = [];
        public Opcode Terminator;
        public int Condition = -1;
        public Edge? First, Second;
        public int ReturnValue = -1;
        public string Name = "";
    }

    private sealed class Edge(Block target, int[] destinations, int[] sources)
    {
        public readonly Block Target = target;
        public readonly int[] Destinations = destinations;
        public readonly int[] Sources = sources;
    }

    private readonly Function _function;
    private readonly long[] _template;
    private readonly int[] _parameters;
    private readonly Block _entry;
    private readonly int _maxPhis;

    private CompiledFunction(Function function, Dictionary<Function, CompiledFunction> compiled)
    {
        _function = function;
        compiled[function] = this;
        function.Renumber();
        var slots = new Dictionary<Value, int>(ReferenceEqualityComparer.Instance);
        var constants = new List<long>();
        // A multi-result intrinsic writes its components to registers of its own, after the values; Extracts copy them.
        var aggregates = new Dictionary<Instruction, int>(ReferenceEqualityComparer.Instance);
        int aggregateRegisters = 0;
        foreach (var instruction in function.AllInstructions)
            if (instruction is { Op: Opcode.Intrinsic, Type.Kind: TypeKind.Void, Method: { } method } && method.ReturnType != typeof(void)
                && Frontend.TypeLayout.IsStruct(method.ReturnType))
            {
                aggregates[instruction] = function.ValueCount + aggregateRegisters;
                aggregateRegisters += Frontend.TypeLayout.Of(method.ReturnType).Leaves.Count;
            }
        int firstConstant = function.ValueCount + aggregateRegisters;
        int Slot(Value value)
        {
            switch (value)
            {
                case Constant c:
                    if (!slots.TryGetValue(c, out int slot))
                    {
                        slots[c] = slot = firstConstant + constants.Count;
                        constants.Add(Encode(c));
                    }
                    return slot;
                case Parameter p when p.Index < function.Parameters.Count && ReferenceEquals(function.Parameters[p.Index], p):
                    return p.Id;
                case Instruction i when i.Block?.Parent == function:
                    return i.Id;
                default:
                    throw new InvalidOperationException($"IR interpreter: {IRPrinter.Name(value)} is used in {function.Name} but does not belong to it.");
            }
        }

        _parameters = [.. function.Parameters.Select(p => p.Id)];
        var blocks = function.Blocks.ToDictionary(b => b, b => new Block { Name = b.Name });
        foreach (var block in function.Blocks)
        {
            var compiledBlock = blocks[block];
            var body = new List<InterpreterOp>();
            foreach (var instruction in block.Instructions)
            {
                if (instruction.Op == Opcode.Phi) continue;
                if (instruction.IsTerminator)
                {
                    compiledBlock.Terminator = instruction.Op;
                    if (instruction.Op == Opcode.CondBr) compiledBlock.Condition = Slot(instruction.Operands[0]);
                    if (instruction.Op == Opcode.Ret && instruction.Operands.Count > 0) compiledBlock.ReturnValue = Slot(instruction.Operands[0]);
                    if (instruction.Op is Opcode.Br or Opcode.CondBr)
                    {
                        Edge MakeEdge(BasicBlock target)
                        {
                            var destinations = new List<int>();
                            var sources = new List<int>();
                            foreach (var phi in target.Phis)
                            {
                                int k = phi.PhiBlocks.IndexOf(block);
                                if (k < 0)
                                    throw new InvalidOperationException($"IR interpreter: phi {IRPrinter.Format(phi)} in {target.Name} has no operand for the edge from {block.Name}.");
                                destinations.Add(phi.Id);
                                sources.Add(Slot(phi.Operands[k]));
                            }
                            return new Edge(blocks[target], [.. destinations], [.. sources]);
                        }
                        compiledBlock.First = MakeEdge(instruction.Targets[0]);
                        if (instruction.Op == Opcode.CondBr) compiledBlock.Second = MakeEdge(instruction.Targets[1]);
                    }
                    break;
                }
                body.Add(CompileInstruction(instruction, Slot, compiled, aggregates));
            }
            if (block.Terminator is null)
                throw new InvalidOperationException($"IR interpreter: block {block.Name} of {function.Name} has no terminator.");
            compiledBlock.Body = [.. body];
            _maxPhis = Math.Max(_maxPhis, block.Phis.Count());
        }
        _entry = blocks[function.Entry];
        _template = new long[firstConstant + constants.Count];
        for (int c = 0; c < constants.Count; c++) _template[firstConstant + c] = constants[c];
    }

    /// <summary>Compiles <paramref name="function"/> and every function it calls.</summary>
    public static CompiledFunction Compile(Function function) => new(function, new Dictionary<Function, CompiledFunction>());

    /// <summary>Runs one activation with <paramref name="arguments"/> (registers) on the calling kernel thread; returns the result register (0 for void).</summary>
    public long Run(ReadOnlySpan<long> arguments, CpuContext context)
    {
        var frame = new InterpreterFrame((long[])_template.Clone(), context);
        var r = frame.R;
        for (int p = 0; p < _parameters.Length; p++) r[_parameters[p]] = arguments[p];
        Span<long> temporaries = _maxPhis <= 64 ? stackalloc long[_maxPhis] : new long[_maxPhis];
        var block = _entry;
        while (true)
        {
            foreach (var op in block.Body) op(frame);
            Edge edge;
            switch (block.Terminator)
            {
                case Opcode.Br:
                    edge = block.First!;
                    break;
                case Opcode.CondBr:
                    edge = r[block.Condition] != 0 ? block.First! : block.Second!;
                    break;
                case Opcode.Ret:
                    return block.ReturnValue >= 0 ? r[block.ReturnValue] : 0;
                default:
                    throw new InvalidOperationException($"IR interpreter: {_function.Name} reached unreachable code in block {block.Name}.");
            }
            var destinations = edge.Destinations;
            if (destinations.Length > 0)
            {
                var sources = edge.Sources;
                for (int k = 0; k < sources.Length; k++) temporaries[k] = r[sources[k]];
                for (int k = 0; k < destinations.Length; k++) r[destinations[k]] = temporaries[k];
            }
            block = edge.Target;
        }
    }

    private static InterpreterOp CompileInstruction(Instruction i, Func<Value, int> slot, Dictionary<Function, CompiledFunction> compiled,
        Dictionary<Instruction, int> aggregates)
    {
        int d = aggregates.TryGetValue(i, out int first) ? first : i.Id;
        int[] s = [.. i.Operands.Select(slot)];
        switch (i.Op)
        {
            case Opcode.Add or Opcode.Sub or Opcode.Mul or Opcode.Div or Opcode.DivUn or Opcode.Rem or Opcode.RemUn
                or Opcode.And or Opcode.Or or Opcode.Xor or Opcode.Shl or Opcode.Shr or Opcode.ShrUn:
            {
                int a = s[0], b = s[1];
                // Direct closures for the hottest forms; everything else through ScalarOps.
                switch (i.Op, i.Operands[0].Type.Kind)
                {
                    case (Opcode.Add, TypeKind.Float32): return frame => { var r = frame.R; r[d] = FromF32(F32(r[a]) + F32(r[b])); };
                    case (Opcode.Sub, TypeKind.Float32): return frame => { var r = frame.R; r[d] = FromF32(F32(r[a]) - F32(r[b])); };
                    case (Opcode.Mul, TypeKind.Float32): return frame => { var r = frame.R; r[d] = FromF32(F32(r[a]) * F32(r[b])); };
                    case (Opcode.Add, TypeKind.Int32): return frame => { var r = frame.R; r[d] = (int)r[a] + (int)r[b]; };
                    case (Opcode.Sub, TypeKind.Int32): return frame => { var r = frame.R; r[d] = (int)r[a] - (int)r[b]; };
                    case (Opcode.Mul, TypeKind.Int32): return frame => { var r = frame.R; r[d] = (int)r[a] * (int)r[b]; };
                    case (Opcode.Add, TypeKind.Int64): return frame => { var r = frame.R; r[d] = r[a] + r[b]; };
                    case (Opcode.Mul, TypeKind.Int64): return frame => { var r = frame.R; r[d] = r[a] * r[b]; };
                }
                var f = ScalarOps.Binary(i.Op, i.Operands[0].Type.Kind);
                return frame => { var r = frame.R; r[d] = f(r[a], r[b]); };
            }
            case Opcode.Neg or Opcode.Not:
            {
                var f = ScalarOps.Unary(i.Op, i.Operands[0].Type.Kind);
                int a = s[0];
                return frame => { var r = frame.R; r[d] = f(r[a]); };
            }
            case Opcode.Cmp:
            {
                var f = ScalarOps.Compare(i.Compare, i.Operands[0].Type.Kind);
                int a = s[0], b = s[1];
                return frame => { var r = frame.R; r[d] = f(r[a], r[b]) ? 1 : 0; };
            }
            case Opcode.Select:
            {
                int c = s[0], t = s[1], e = s[2];
                return frame => { var r = frame.R; r[d] = r[c] != 0 ? r[t] : r[e]; };
            }
            case Opcode.Convert:
            {
                var f = ScalarOps.Convert(i.Operands[0].Type.Kind, i.Type.Kind, i.Unsigned);
                int a = s[0];
                return frame => { var r = frame.R; r[d] = f(r[a]); };
            }
            case Opcode.Alloca:
            {
                int size = i.AllocaSize, alignment = Math.Max(1, i.Alignment);
                return frame => { if (frame.R[d] == 0) frame.R[d] = frame.Context.AllocateLocal(size, alignment); };
            }
            case Opcode.Load: return Load(i.Type.Kind, d, s[0]);
            case Opcode.Store: return Store(i.Operands[1].Type.Kind, s[0], s[1]);
            case Opcode.PtrAdd:
            {
                int a = s[0], b = s[1];
                return frame => { var r = frame.R; r[d] = r[a] + r[b]; };
            }
            case Opcode.PtrToInt or Opcode.IntToPtr or Opcode.AddrSpaceCast:
            {
                int a = s[0];
                return frame => frame.R[d] = frame.R[a];
            }
            case Opcode.Call:
            {
                var callee = i.Callee ?? throw new InvalidOperationException($"IR interpreter: call without a callee ({IRPrinter.Format(i)}).");
                if (!compiled.TryGetValue(callee, out var target)) target = new CompiledFunction(callee, compiled);
                return frame =>
                {
                    Span<long> arguments = s.Length <= 16 ? stackalloc long[s.Length] : new long[s.Length];
                    for (int k = 0; k < s.Length; k++) arguments[k] = frame.R[s[k]];
                    frame.R[d] = target.Run(arguments, frame.Context);
                };
            }
            case Opcode.Intrinsic:
                return IntrinsicOps.Compile(i, d, s);
            case Opcode.Extract:
            {
                int component = aggregates[(Instruction)i.Operands[0]] + i.Index;
                return frame => frame.R[d] = frame.R[component];
            }
            default:
                throw new InvalidOperationException($"IR interpreter: unsupported opcode {i.Op} ({IRPrinter.Format(i)}).");
        }
    }

    private static InterpreterOp Load(TypeKind kind, int d, int p) => kind switch
    {
        TypeKind.Bool => f => f.R[d] = *(byte*)f.R[p] != 0 ? 1 : 0,
        TypeKind.Int8 => f => f.R[d] = *(sbyte*)f.R[p],
        TypeKind.Int16 or TypeKind.Float16 or TypeKind.BFloat16 => f => f.R[d] = Unsafe.ReadUnaligned<short>((void*)f.R[p]),
        TypeKind.Int32 or TypeKind.Float32 => f => f.R[d] = Unsafe.ReadUnaligned<int>((void*)f.R[p]),
        TypeKind.Int64 or TypeKind.Float64 or TypeKind.Pointer => f => f.R[d] = Unsafe.ReadUnaligned<long>((void*)f.R[p]),
        _ => throw ScalarOps.Unsupported(Opcode.Load, kind),
    };

    private static InterpreterOp Store(TypeKind kind, int p, int v) => kind switch
    {
        TypeKind.Bool or TypeKind.Int8 => f => *(byte*)f.R[p] = (byte)f.R[v],
        TypeKind.Int16 or TypeKind.Float16 or TypeKind.BFloat16 => f => Unsafe.WriteUnaligned((void*)f.R[p], (short)f.R[v]),
        TypeKind.Int32 or TypeKind.Float32 => f => Unsafe.WriteUnaligned((void*)f.R[p], (int)f.R[v]),
        TypeKind.Int64 or TypeKind.Float64 or TypeKind.Pointer => f => Unsafe.WriteUnaligned((void*)f.R[p], f.R[v]),
        _ => throw ScalarOps.Unsupported(Opcode.Store, kind),
    };
}
