using FlashAttn.Compute.IR.Analysis;

namespace FlashAttn.Compute.IR.Transformations;

/// <summary>
/// Promotes stack memory to SSA values, splitting aggregates (SROA). An alloca (or a constant-count
/// <c>Intrinsic(LocalAllocate)</c>, first turned into an entry-block alloca) is promotable when every use
/// is a Load or a Store through it, directly or through chains of <c>PtrAdd</c> with constant offsets, each
/// byte offset accessed with one type and no two accessed ranges overlapping. Each offset becomes a
/// variable; phis go at the iterated dominance frontiers of its stores and renaming walks the dominator
/// tree. A load before any store reads zero.
/// </summary>
public sealed class Mem2Reg : FunctionPass
{
    /// <inheritdoc/>
    public override string Name => "Mem2Reg";

    private sealed class Slot(int offset, IRType type)
    {
        public int Offset { get; } = offset;
        public IRType Type { get; set; } = type;
        public List<BasicBlock> DefBlocks { get; } = [];
        public HashSet<BasicBlock> ReadFirst { get; } = [];
        public Stack<Value> Stack { get; } = new();
    }

    /// <summary>The blocks <paramref name="slot"/> is live into: those that read it before writing it, and backwards from
    /// them through predecessors that do not write it.</summary>
    private static HashSet<BasicBlock> LiveInBlocks(Slot slot, Dominators dominators)
    {
        var live = new HashSet<BasicBlock>(slot.ReadFirst);
        var work = new Stack<BasicBlock>(slot.ReadFirst);
        var defines = slot.DefBlocks.Count > 4 ? slot.DefBlocks.ToHashSet() : null;
        while (work.Count > 0)
            foreach (var predecessor in dominators.Predecessors[work.Pop()])
                if (dominators.IsReachable(predecessor) && !(defines?.Contains(predecessor) ?? slot.DefBlocks.Contains(predecessor))
                    && live.Add(predecessor))
                    work.Push(predecessor);
        return live;
    }

    /// <inheritdoc/>
    public override bool Run(Function function)
    {
        bool changed = LowerLocalAllocations(function);
        var allocas = function.Entry.Instructions.Where(i => i.Op == Opcode.Alloca).ToList();
        if (allocas.Count == 0) return changed;
        // the users of allocas and PtrAdds only (all Collect walks): a map of every value's users, constants included,
        // was most of the pass's time in the unrolled kernels
        var users = CfgUtilities.ComputeUsers(function, v => v is Instruction { Op: Opcode.Alloca or Opcode.PtrAdd });
        var access = new Dictionary<Instruction, Slot>();  // load/store → slot
        var toDelete = new HashSet<Instruction>();
        int promoted = 0;
        foreach (var alloca in allocas)
        {
            var found = new Dictionary<Instruction, (int Offset, IRType Type)>();
            var pointers = new List<Instruction>();
            if (!Collect(alloca, 0, alloca.AllocaSize, users, found, pointers)) continue;
            // One type per offset, no overlaps.
            var slots = new Dictionary<int, Slot>();
            bool ok = true;
            foreach (var (_, (offset, type)) in found)
            {
                if (!slots.TryGetValue(offset, out var slot)) slots[offset] = new Slot(offset, type);
                else if (slot.Type != type)
                {
                    if (slot.Type.IsPointer && type.IsPointer) slot.Type = IRType.GenericPointer;
                    else { ok = false; break; }
                }
            }
            if (!ok) continue;
            var ordered = slots.Values.OrderBy(s => s.Offset).ToList();
            for (int k = 1; k < ordered.Count && ok; k++)
                if (ordered[k - 1].Offset + ordered[k - 1].Type.Size > ordered[k].Offset) ok = false;
            if (!ok) continue;
            foreach (var (instruction, (offset, _)) in found) access[instruction] = slots[offset];
            toDelete.Add(alloca);
            foreach (var pointer in pointers) toDelete.Add(pointer);
            promoted++;
        }
        if (promoted == 0) return changed;

        var dominators = new Dominators(function);
        var frontiers = new DominanceFrontiers(dominators);
        // each slot's blocks in which it is read before it is written (its upward-exposed loads), and where it is stored
        foreach (var block in function.Blocks)
        {
            if (!dominators.IsReachable(block)) continue;
            foreach (var instruction in block.Instructions)
                if (access.TryGetValue(instruction, out var slot))
                {
                    // blocks are visited in turn: the slot was stored earlier in this block when this block is its last store's
                    bool storedHere = slot.DefBlocks.Count > 0 && slot.DefBlocks[^1] == block;
                    if (instruction.Op == Opcode.Load && !storedHere) slot.ReadFirst.Add(block);
                    else if (instruction.Op == Opcode.Store && !storedHere) slot.DefBlocks.Add(block);
                }
        }

        // Phi insertion (pruned SSA): at the iterated dominance frontier of the stores, where the slot is live on entry. Unrolled
        // kernels have thousands of slots that live within a block or two (a fragment loaded and used): without the pruning,
        // 30k phis a kernel, every one dead, for the renaming and dead code elimination to carry
        var phiSlot = new Dictionary<Instruction, Slot>();
        foreach (var slot in access.Values.Distinct())
        {
            if (slot.DefBlocks.Count == 0 || slot.ReadFirst.Count == 0) continue;
            var liveIn = LiveInBlocks(slot, dominators);
            foreach (var block in frontiers.Iterated(slot.DefBlocks))
            {
                if (!liveIn.Contains(block)) continue;
                var phi = new Instruction(Opcode.Phi, slot.Type);
                block.Insert(0, phi);
                phiSlot[phi] = slot;
            }
        }

        // Renaming over the dominator tree (iterative).
        var replacements = new Dictionary<Value, Value>();
        Value Current(Slot slot) => slot.Stack.Count > 0 ? slot.Stack.Peek() : CfgUtilities.Zero(slot.Type);
        var work = new Stack<(BasicBlock Block, bool Exit, List<Slot>? Pushed)>();
        work.Push((function.Entry, false, null));
        while (work.Count > 0)
        {
            var (block, exit, pushedList) = work.Pop();
            if (exit)
            {
                foreach (var slot in pushedList!) slot.Stack.Pop();
                continue;
            }
            var pushed = new List<Slot>();
            foreach (var instruction in block.Instructions)
            {
                if (instruction.Op == Opcode.Phi && phiSlot.TryGetValue(instruction, out var ps))
                {
                    ps.Stack.Push(instruction);
                    pushed.Add(ps);
                }
                else if (access.TryGetValue(instruction, out var slot))
                {
                    if (instruction.Op == Opcode.Load) replacements[instruction] = Current(slot);
                    else
                    {
                        slot.Stack.Push(instruction.Operands[1]);
                        pushed.Add(slot);
                    }
                }
            }
            foreach (var successor in block.Successors.Distinct())
                foreach (var phi in successor.Phis)
                    if (phiSlot.TryGetValue(phi, out var slot))
                    {
                        phi.Operands.Add(Current(slot));
                        phi.PhiBlocks.Add(block);
                    }
            work.Push((block, true, pushed));
            foreach (var child in dominators.Children(block)) work.Push((child, false, null));
        }
        // Unreachable predecessors of reachable blocks still need phi entries; unreachable loads read zero.
        foreach (var block in function.Blocks)
        {
            if (dominators.IsReachable(block))
            {
                foreach (var pred in dominators.Predecessors[block].Where(p => !dominators.IsReachable(p)))
                    foreach (var phi in block.Phis)
                        if (phiSlot.TryGetValue(phi, out var slot))
                        {
                            phi.Operands.Add(CfgUtilities.Zero(slot.Type));
                            phi.PhiBlocks.Add(pred);
                        }
                continue;
            }
            foreach (var instruction in block.Instructions)
                if (instruction.Op == Opcode.Load && access.TryGetValue(instruction, out var slot))
                    replacements[instruction] = CfgUtilities.Zero(slot.Type);
        }
        foreach (var instruction in access.Keys) toDelete.Add(instruction);
        CfgUtilities.RemoveAll(function, toDelete);
        function.ReplaceUses(replacements);
        return true;
    }

    /// <summary>Walks the uses of <paramref name="pointer"/> (at byte <paramref name="offset"/> of the alloca), recording accesses.</summary>
    private static bool Collect(Instruction pointer, long offset, int size, Dictionary<Value, List<Instruction>> users,
        Dictionary<Instruction, (int, IRType)> found, List<Instruction> pointers)
    {
        if (!users.TryGetValue(pointer, out var list)) return true;
        foreach (var user in list.Distinct())
        {
            switch (user.Op)
            {
                case Opcode.Load when user.Operands[0] == pointer:
                    if (offset < 0 || offset + user.Type.Size > size) return false;
                    found[user] = ((int)offset, user.Type);
                    break;
                case Opcode.Store when user.Operands[0] == pointer && user.Operands[1] != pointer:
                    if (offset < 0 || offset + user.Operands[1].Type.Size > size) return false;
                    found[user] = ((int)offset, user.Operands[1].Type);
                    break;
                case Opcode.PtrAdd when user.Operands[0] == pointer && user.Operands[1] is Constant c:
                    pointers.Add(user);
                    if (!Collect(user, offset + c.Bits, size, users, found, pointers)) return false;
                    break;
                default:
                    return false;
            }
        }
        return true;
    }

    /// <summary>Turns each <c>Intrinsic(LocalAllocate)</c> with a constant count into an alloca in the entry block.</summary>
    internal static bool LowerLocalAllocations(Function function)
    {
        var replacements = new Dictionary<Value, Value>();
        int insertAt = 0;
        foreach (var block in function.Blocks)
        {
            if (!block.Instructions.Exists(i => i is { Op: Opcode.Intrinsic, Intrinsic: IntrinsicOp.LocalAllocate })) continue;
            foreach (var instruction in block.Instructions.ToList())
            {
                if (instruction is not { Op: Opcode.Intrinsic, Intrinsic: IntrinsicOp.LocalAllocate }
                    || instruction.Operands.Count == 0 || instruction.Operands[0] is not Constant count
                    || instruction.ElementType is not { } element)
                    continue;
                long bytes = Math.Max(0, count.Bits) * element.Size;
                if (bytes > int.MaxValue) continue;
                var alloca = new Instruction(Opcode.Alloca, IRType.Pointer(AddressSpace.Local))
                {
                    AllocaSize = (int)bytes,
                    Alignment = Math.Max(1, element.Size),
                    Name = instruction.Name,
                };
                CfgUtilities.Remove(instruction);
                function.Entry.Insert(insertAt++, alloca);
                replacements[instruction] = alloca;
            }
        }
        function.ReplaceUses(replacements);
        return replacements.Count > 0;
    }
}
