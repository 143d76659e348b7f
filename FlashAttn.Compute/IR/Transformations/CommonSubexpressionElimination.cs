using FlashAttn.Compute.IR.Analysis;

namespace FlashAttn.Compute.IR.Transformations;

/// <summary>
/// Dominator-scoped value numbering: a pure instruction (arithmetic, compare, select, convert, pointer
/// arithmetic, pure intrinsics such as thread indices) equal to one in a dominating position — same
/// opcode, type, attributes and operands (commutative operands in either order) — is replaced by it.
/// Within a block, loads of device (global) memory too: a load of the address and type an earlier one read, with nothing
/// between them that may write memory or synchronise (a store, call, atomic, barrier, shuffle, async copy: any instruction
/// with side effects, but a store to shared or local memory, which cannot reach device memory), takes that load's value.
/// Kernels read their inputs only, and a write by another thread between the two without synchronisation would be a data
/// race, so the two must agree. This merges a modifier's loads of one table
/// entry across the unrolled element loop (ALiBi's slope: one load per block instead of 64); the arithmetic on them then
/// numbers alike in the same walk. Needs the pointers' spaces (<see cref="AddressSpaceInference"/> first).
/// </summary>
public sealed class CommonSubexpressionElimination : FunctionPass
{
    /// <inheritdoc/>
    public override string Name => "CommonSubexpressionElimination";

    private static bool IsCandidate(Instruction i) => i.Type.Kind != TypeKind.Void && i.Op switch
    {
        Opcode.Add or Opcode.Sub or Opcode.Mul or Opcode.Div or Opcode.DivUn or Opcode.Rem or Opcode.RemUn or Opcode.Neg
            or Opcode.And or Opcode.Or or Opcode.Xor or Opcode.Not or Opcode.Shl or Opcode.Shr or Opcode.ShrUn
            or Opcode.Cmp or Opcode.Select or Opcode.Convert or Opcode.PtrAdd or Opcode.PtrToInt or Opcode.IntToPtr
            or Opcode.AddrSpaceCast => true,
        Opcode.Intrinsic => IntrinsicFacts.IsPure(i.Intrinsic) && i.Intrinsic != IntrinsicOp.CpuBoundsCheck,
        _ => false,
    };

    /// <summary>A store to shared or local memory: another address space than the loads kept, so it cannot change them.</summary>
    private static bool StoresBesideDeviceMemory(Instruction i)
        => i.Op == Opcode.Store && i.Operands[0].Type.Space is AddressSpace.Shared or AddressSpace.Local;

    private static bool IsCommutative(Instruction i) => i.Op is Opcode.Add or Opcode.Mul or Opcode.And or Opcode.Or or Opcode.Xor
        || (i.Op == Opcode.Cmp && i.Compare is CompareKind.Eq or CompareKind.Ne && !i.Operands[0].Type.IsFloat);

    private static string OperandKey(Value v) => v switch
    {
        Constant c => $"c{c.Type}:{c.Bits}:{BitConverter.DoubleToInt64Bits(c.Float)}",
        _ => "v" + v.Id,
    };

    private static string Key(Instruction i)
    {
        var operands = i.Operands.Select(OperandKey).ToList();
        if (IsCommutative(i)) operands.Sort(StringComparer.Ordinal);
        return $"{i.Op}|{i.Type}|{i.Compare}|{i.Unsigned}|{i.Intrinsic}|{i.ElementType}|{i.Method?.MetadataToken}|{string.Join(",", operands)}";
    }

    /// <inheritdoc/>
    public override bool Run(Function function)
    {
        function.Renumber();
        var dominators = new Dominators(function);
        var table = new Dictionary<string, Instruction>();
        var replacements = new Dictionary<Value, Value>();
        var removed = new HashSet<Instruction>();
        var loads = new Dictionary<(Value Pointer, IRType Type), Instruction>(); // this block's global loads since the last side effect
        var work = new Stack<(BasicBlock Block, List<string>? Added)>();
        work.Push((function.Entry, null));
        while (work.Count > 0)
        {
            var (block, added) = work.Pop();
            if (added is not null)
            {
                foreach (var key in added) table.Remove(key);
                continue;
            }
            var mine = new List<string>();
            loads.Clear();
            foreach (var instruction in block.Instructions)
            {
                for (int k = 0; k < instruction.Operands.Count; k++)
                    if (replacements.TryGetValue(instruction.Operands[k], out var r)) instruction.Operands[k] = r;
                if (instruction.HasSideEffects && !StoresBesideDeviceMemory(instruction)) loads.Clear();
                if (instruction is { Op: Opcode.Load } load && load.Operands[0].Type.Space == AddressSpace.Global)
                {
                    if (loads.TryGetValue((load.Operands[0], load.Type), out var earlier))
                    {
                        replacements[load] = earlier;
                        removed.Add(load);
                    }
                    else loads[(load.Operands[0], load.Type)] = load;
                    continue;
                }
                if (!IsCandidate(instruction)) continue;
                string key = Key(instruction);
                if (table.TryGetValue(key, out var existing))
                {
                    replacements[instruction] = existing;
                    removed.Add(instruction);
                }
                else
                {
                    table[key] = instruction;
                    mine.Add(key);
                }
            }
            work.Push((block, mine));
            foreach (var child in dominators.Children(block)) work.Push((child, null));
        }
        if (removed.Count == 0) return false;
        CfgUtilities.RemoveAll(function, removed);
        function.ReplaceUses(replacements);
        return true;
    }
}
