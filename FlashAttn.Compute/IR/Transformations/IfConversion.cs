namespace FlashAttn.Compute.IR.Transformations;

/// <summary>
/// Turns small branches whose only purpose is a value into selects. A block that ends in <c>condbr c, T, F</c>, where
/// each of T and F is either the join block J or a side block (entered only from here, left only to J, at most
/// <see cref="MaxSpeculated"/> instructions that cannot trap or touch memory), becomes one block: the side blocks'
/// instructions run unconditionally and J's phis take <c>select c, (value via T), (value via F)</c>.
/// </summary>
/// <remarks>
/// C#'s <c>&amp;&amp;</c>, <c>||</c> and <c>?:</c> compile to such branches. Left as branches they cost a PTX branch and a
/// reconvergence point each (ptxas: BSSY/BSYNC around every one), and a Bool merged across them travels as an integer;
/// the tensor-core tile loader's <c>fetch = columnValid &amp;&amp; r &lt; validRows</c> became SEL, LOP3 and ISETP per chunk.
/// As selects, <see cref="ConstantFolding"/> folds the Bool round trips and ptxas sees one straight block.
/// </remarks>
public sealed class IfConversion : FunctionPass
{
    /// <summary>The most instructions (terminator excluded) a side block may hold.</summary>
    public const int MaxSpeculated = 6;

    /// <inheritdoc/>
    public override string Name => "IfConversion";

    /// <inheritdoc/>
    public override bool Run(Function function)
    {
        bool any = false;
        for (bool changed = true; changed;)
        {
            changed = false;
            var predecessors = function.ComputePredecessors();
            // a conversion changes the edges of its own blocks only: others convert in the same round, the blocks it
            // touched (whose predecessor lists are now stale) wait for the next
            var touched = new HashSet<BasicBlock>();
            foreach (var head in function.Blocks.ToList())
            {
                if (touched.Contains(head) || head.Terminator is not { Op: Opcode.CondBr } branch) continue;
                BasicBlock ifTrue = branch.Targets[0], ifFalse = branch.Targets[1];
                var join = JoinOf(head, ifTrue, ifFalse, predecessors);
                if (join is null || touched.Contains(ifTrue) || touched.Contains(ifFalse) || touched.Contains(join)) continue;
                Convert(head, branch, ifTrue, ifFalse, join);
                touched.UnionWith([head, ifTrue, ifFalse, join]);
                changed = any = true;
            }
            if (changed) CfgUtilities.RemoveUnreachableBlocks(function);
        }
        return any;
    }

    /// <summary>The block both arms reach, when the branch has the shape this pass converts; else null.</summary>
    private static BasicBlock? JoinOf(BasicBlock head, BasicBlock ifTrue, BasicBlock ifFalse, Dictionary<BasicBlock, List<BasicBlock>> predecessors)
    {
        if (ifTrue == ifFalse) return null;
        BasicBlock? Exit(BasicBlock side) => IsSide(side, head, predecessors) ? side.Successors[0] : null;
        BasicBlock? trueExit = Exit(ifTrue), falseExit = Exit(ifFalse);
        BasicBlock? join =
            trueExit is not null && (trueExit == ifFalse || trueExit == falseExit) ? trueExit
            : falseExit is not null && falseExit == ifTrue ? falseExit
            : null;
        // a loop back to the head, or a join that is itself an arm's side block, is not a diamond
        return join is null || join == head ? null : join;
    }

    /// <summary>True when <paramref name="side"/> is entered only from <paramref name="head"/>, jumps on unconditionally and
    /// holds a few instructions that may run on the other path too.</summary>
    private static bool IsSide(BasicBlock side, BasicBlock head, Dictionary<BasicBlock, List<BasicBlock>> predecessors)
    {
        if (side == head || side.Terminator is not { Op: Opcode.Br } br || br.Targets[0] == side) return false;
        if (predecessors[side] is not [var only] || only != head) return false;
        if (side.Instructions.Count - 1 > MaxSpeculated) return false;
        for (int k = 0; k < side.Instructions.Count - 1; k++)
            if (!Speculatable(side.Instructions[k])) return false;
        return true;
    }

    /// <summary>Arithmetic that cannot trap, read memory or synchronise, single-instruction math intrinsics (min, max, abs, fma,
    /// copysign, rounding, class tests, bit casts) included: integer division (by zero), loads, other intrinsics (shuffles,
    /// mma: every lane must take part; the multi-instruction math) and phis stay where they are.</summary>
    private static bool Speculatable(Instruction instruction) => instruction.Op switch
    {
        Opcode.Add or Opcode.Sub or Opcode.Mul or Opcode.Neg or Opcode.And or Opcode.Or or Opcode.Xor or Opcode.Not
            or Opcode.Shl or Opcode.Shr or Opcode.ShrUn or Opcode.Cmp or Opcode.Select or Opcode.Convert
            or Opcode.PtrAdd or Opcode.PtrToInt or Opcode.IntToPtr => instruction.Type.Kind != TypeKind.Void,
        Opcode.Div or Opcode.DivUn or Opcode.Rem or Opcode.RemUn => instruction.Type.IsFloat,
        Opcode.Intrinsic => instruction.Type.Kind != TypeKind.Void && instruction.Intrinsic is IntrinsicOp.Min or IntrinsicOp.Max
            or IntrinsicOp.Abs or IntrinsicOp.Fma or IntrinsicOp.CopySign or IntrinsicOp.Floor or IntrinsicOp.Ceiling or IntrinsicOp.Round
            or IntrinsicOp.Truncate or IntrinsicOp.IsNaN or IntrinsicOp.IsInfinity or IntrinsicOp.IsFinite or IntrinsicOp.BitCast,
        _ => false,
    };

    private static void Convert(BasicBlock head, Instruction branch, BasicBlock ifTrue, BasicBlock ifFalse, BasicBlock join)
    {
        var condition = branch.Operands[0];
        // the arms' instructions move in front of the branch, in order
        foreach (var side in new[] { ifTrue, ifFalse })
        {
            if (side == join) continue;
            foreach (var instruction in side.Instructions.Take(side.Instructions.Count - 1).ToList())
            {
                side.Instructions.Remove(instruction);
                head.InsertBeforeTerminator(instruction);
            }
        }
        // each phi of the join: one entry from the head, the select of what arrived through each arm
        BasicBlock trueEdge = ifTrue == join ? head : ifTrue, falseEdge = ifFalse == join ? head : ifFalse;
        foreach (var phi in join.Phis.ToList())
        {
            var viaTrue = phi.Operands[phi.PhiBlocks.IndexOf(trueEdge)];
            var viaFalse = phi.Operands[phi.PhiBlocks.IndexOf(falseEdge)];
            var merged = viaTrue == viaFalse ? viaTrue
                : head.InsertBeforeTerminator(new Instruction(Opcode.Select, phi.Type, condition, viaTrue, viaFalse));
            for (int k = phi.PhiBlocks.Count - 1; k >= 0; k--)
                if (phi.PhiBlocks[k] == trueEdge || phi.PhiBlocks[k] == falseEdge)
                {
                    phi.PhiBlocks.RemoveAt(k);
                    phi.Operands.RemoveAt(k);
                }
            phi.PhiBlocks.Add(head);
            phi.Operands.Add(merged);
        }
        CfgUtilities.ReplaceTerminatorWithBr(head, join);
    }
}
