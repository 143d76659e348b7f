using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Backends.Ptx;

/// <summary>One merged access: 2 or 4 scalar f32/i32 loads (or stores) at base+off, +4, +8, +12.</summary>
/// <param name="Members">The scalar accesses in offset order.</param>
/// <param name="Base">The common base pointer value.</param>
/// <param name="Offset">Byte offset of the first member from <paramref name="Base"/>.</param>
/// <param name="IsLoad">Loads (emitted at the first member) or stores (emitted at the last).</param>
internal sealed record PtxVectorGroup(IReadOnlyList<Instruction> Members, Value Base, long Offset, bool IsLoad);

/// <summary>
/// The vectorizing peephole: in one block, 4 (or 2) loads of f32 or i32 from the same base pointer value
/// at constant offsets +0, +4, +8, +12 (+0, +4), whose first address is known 16- (8-) byte aligned
/// (<see cref="Instruction.Alignment"/>), with no store, atomic, barrier or other side effect between
/// them, become one <c>ld.v4</c> (<c>ld.v2</c>) at the first load. Stores likewise become one
/// <c>st.v4</c>/<c>st.v2</c> at the last store, when nothing between them loads, stores elsewhere or has
/// a side effect.
/// </summary>
internal static class PtxVectorAccess
{
    /// <summary>The groups of <paramref name="block"/>, keyed by the instruction where the vector access is written; <paramref name="absorbed"/> receives the other members.</summary>
    public static Dictionary<Instruction, PtxVectorGroup> Plan(BasicBlock block, HashSet<Instruction> absorbed)
    {
        var leaders = new Dictionary<Instruction, PtxVectorGroup>(ReferenceEqualityComparer.Instance);
        var instructions = block.Instructions;
        var used = new HashSet<Instruction>(ReferenceEqualityComparer.Instance);
        for (int start = 0; start < instructions.Count; start++)
        {
            var first = instructions[start];
            if (used.Contains(first) || !IsCandidate(first) || first.Alignment < 8) continue;
            bool isLoad = first.Op == Opcode.Load;
            var type = AccessType(first);
            var pointer = first.Operands[0];
            var (baseValue, offset) = PtxInstructionEmitter.Decompose(pointer);
            var found = new Instruction?[4];
            found[0] = first;
            for (int k = start + 1; k < instructions.Count; k++)
            {
                var next = instructions[k];
                if (next.Op == first.Op && IsCandidate(next) && !used.Contains(next)
                    && AccessType(next) == type && next.Operands[0].Type.Space == pointer.Type.Space)
                {
                    var (nb, no) = PtxInstructionEmitter.Decompose(next.Operands[0]);
                    long delta = no - offset;
                    if (ReferenceEquals(nb, baseValue) && delta is 4 or 8 or 12 && found[delta / 4] is null)
                    {
                        found[delta / 4] = next;
                        continue;
                    }
                }
                if (Blocks(next, isLoad)) break;
            }
            int width = found[1] is not null && found[2] is not null && found[3] is not null && first.Alignment >= 16 ? 4
                : found[1] is not null ? 2 : 0;
            if (width == 0) continue;
            var members = found.Take(width).Select(m => m!).ToList();
            foreach (var m in members) used.Add(m);
            // Loads are written at the earliest member, stores at the latest.
            var ordered = members.OrderBy(instructions.IndexOf).ToList();
            var leader = isLoad ? ordered[0] : ordered[^1];
            foreach (var m in members)
                if (!ReferenceEquals(m, leader)) absorbed.Add(m);
            leaders[leader] = new PtxVectorGroup(members, baseValue, offset, isLoad);
        }
        return leaders;
    }

    private static IRType AccessType(Instruction i) => i.Op == Opcode.Load ? i.Type : i.Operands[1].Type;

    private static bool IsCandidate(Instruction i)
        => i.Op is Opcode.Load or Opcode.Store && AccessType(i).Kind is TypeKind.Float32 or TypeKind.Int32;

    /// <summary>True when <paramref name="i"/> between the members forbids moving them together.</summary>
    private static bool Blocks(Instruction i, bool mergingLoads)
    {
        if (i.Op == Opcode.Store || i.HasSideEffects) return true;
        return !mergingLoads && i.Op == Opcode.Load;
    }

    /// <summary>Writes the vector access of <paramref name="group"/>.</summary>
    public static void Emit(PtxCodeBuilder b, PtxVectorGroup group)
    {
        var first = group.Members[0];
        var pointerType = first.Operands[0].Type;
        var type = AccessType(first);
        string space = PtxInstructionEmitter.Space(pointerType);
        string address = PtxInstructionEmitter.AddressOf(b.Reg(group.Base), group.Offset);
        string vec = ".v" + group.Members.Count;
        string elementType = PtxInstructionEmitter.MemoryType(type);
        if (group.IsLoad)
        {
            string registers = string.Join(", ", group.Members.Select(m => b.Def(m)));
            b.Emit($"ld{space}{vec}{elementType} {{{registers}}}, {address}");
        }
        else
        {
            string registers = string.Join(", ", group.Members.Select(m => b.Reg(m.Operands[1])));
            b.Emit($"st{space}{vec}{elementType} {address}, {{{registers}}}");
        }
    }
}
