using System.Reflection;

namespace FlashAttn.Compute.IR;

/// <summary>
/// One IR operation and, unless its type is Void, the SSA value it defines. Which of the optional
/// fields matter depends on <see cref="Op"/> (see <see cref="Opcode"/>).
/// </summary>
public sealed class Instruction : Value
{
    /// <summary>Creates an instruction; prefer <see cref="IRBuilder"/>.</summary>
    public Instruction(Opcode op, IRType type, params Value[] operands) : base(type)
    {
        Op = op;
        Operands = [.. operands];
    }

    /// <summary>The operation.</summary>
    public Opcode Op { get; set; }

    /// <summary>Operand values, in the order the opcode documents.</summary>
    public List<Value> Operands { get; }

    /// <summary>The block holding this instruction (null once removed).</summary>
    public BasicBlock? Block { get; set; }

    /// <summary>Cmp: the predicate.</summary>
    public CompareKind Compare { get; set; }

    /// <summary>Convert: treat the source as unsigned (zero-extend, unsigned int→float, float→unsigned).</summary>
    public bool Unsigned { get; set; }

    /// <summary>Br / CondBr: successor blocks.</summary>
    public List<BasicBlock> Targets { get; } = [];

    /// <summary>Phi: the predecessor each operand arrives from (parallel to <see cref="Operands"/>).</summary>
    public List<BasicBlock> PhiBlocks { get; } = [];

    /// <summary>Intrinsic: the operation.</summary>
    public IntrinsicOp Intrinsic { get; set; }

    /// <summary>Intrinsic: the model method the call came from (its managed body is the CPU meaning).</summary>
    public MethodInfo? Method { get; set; }

    /// <summary>Shared/local allocations: the element type; atomics and shuffles: the payload type.</summary>
    public IRType? ElementType { get; set; }

    /// <summary>Call: the callee.</summary>
    public Function? Callee { get; set; }

    /// <summary>Extract: which component of the aggregate (its result struct's leaf, in field order).</summary>
    public int Index { get; set; }

    /// <summary>Alloca: size in bytes.</summary>
    public int AllocaSize { get; set; }

    /// <summary>Alloca / Load / Store / shared allocations: alignment in bytes (at least 1).</summary>
    public int Alignment { get; set; } = 1;

    /// <summary>True for Br, CondBr, Ret, Unreachable.</summary>
    public bool IsTerminator => Op is Opcode.Br or Opcode.CondBr or Opcode.Ret or Opcode.Unreachable;

    /// <summary>True when removing an unused instance could change behaviour (stores, calls, barriers, atomics, ...).</summary>
    public bool HasSideEffects => Op switch
    {
        Opcode.Store or Opcode.Call or Opcode.Br or Opcode.CondBr or Opcode.Ret or Opcode.Unreachable => true,
        Opcode.Intrinsic => !IntrinsicFacts.IsPure(Intrinsic),
        _ => false,
    };

    /// <summary>Copies the scalar attributes (not operands, targets or block) of <paramref name="other"/>.</summary>
    public void CopyAttributesFrom(Instruction other)
    {
        Compare = other.Compare;
        Unsigned = other.Unsigned;
        Intrinsic = other.Intrinsic;
        Method = other.Method;
        ElementType = other.ElementType;
        Callee = other.Callee;
        AllocaSize = other.AllocaSize;
        Alignment = other.Alignment;
        Index = other.Index;
        Name = other.Name;
    }

    /// <inheritdoc/>
    public override string ToString() => IRPrinter.Format(this);
}

/// <summary>Facts about intrinsics that passes rely on.</summary>
public static class IntrinsicFacts
{
    /// <summary>True for a warpgroup MMA (<c>wgmma.mma_async</c>, shared-memory or register A).</summary>
    public static bool IsWarpGroupMma(IntrinsicOp op) => op is IntrinsicOp.WarpGroupMmaF16 or IntrinsicOp.WarpGroupMmaBF16
        or IntrinsicOp.WarpGroupMmaRegisterAF16 or IntrinsicOp.WarpGroupMmaRegisterABF16;

    /// <summary>Where a warpgroup MMA's operands are: A (one descriptor, or four registers), B's descriptor, the accumulate
    /// flag, the accumulators (<c>Count</c> of them from <c>First</c>), then the B-is-MN-major flag and, with A in shared
    /// memory, the A-is-MN-major flag last (<c>TransposeA</c> −1 for register A).</summary>
    public static (int A, int ARegisters, int B, int Accumulate, int First, int Count, int TransposeB, int TransposeA) WarpGroupMmaOperands(Instruction product)
    {
        int aRegisters = product.Intrinsic is IntrinsicOp.WarpGroupMmaRegisterAF16 or IntrinsicOp.WarpGroupMmaRegisterABF16 ? 4 : 1;
        int flags = aRegisters == 1 ? 2 : 1;
        int count = product.Operands.Count - aRegisters - 2 - flags;
        int transposeB = aRegisters + 2 + count;
        return (0, aRegisters, aRegisters, aRegisters + 1, aRegisters + 2, count, transposeB, aRegisters == 1 ? transposeB + 1 : -1);
    }

    /// <summary>True when the intrinsic reads no memory and has no effect beyond its result, so an unused
    /// call may be removed and equal calls merged. Shuffles and barriers are not pure: they synchronise; nor are stores
    /// such as stmatrix (<see cref="IntrinsicOp.StoreMatrix"/>), which write shared memory and return nothing.</summary>
    public static bool IsPure(IntrinsicOp op) => op switch
    {
        IntrinsicOp.ThreadIdxX or IntrinsicOp.ThreadIdxY or IntrinsicOp.ThreadIdxZ
            or IntrinsicOp.GroupDimX or IntrinsicOp.GroupDimY or IntrinsicOp.GroupDimZ
            or IntrinsicOp.GroupIdxX or IntrinsicOp.GroupIdxY or IntrinsicOp.GroupIdxZ
            or IntrinsicOp.GridDimX or IntrinsicOp.GridDimY or IntrinsicOp.GridDimZ
            or IntrinsicOp.LaneIdx or IntrinsicOp.WarpSize or IntrinsicOp.CpuBoundsCheck
            or IntrinsicOp.SharedDynamic or IntrinsicOp.SharedAddress => true,
        >= IntrinsicOp.Exp and <= IntrinsicOp.BFloat16ToFloat => true,
        IntrinsicOp.MmaF16 or IntrinsicOp.MmaBF16 or IntrinsicOp.PackHalf2 or IntrinsicOp.PackBFloat162
            or IntrinsicOp.MmaTf32 or IntrinsicOp.RoundToTf32 => true,
        _ => false,
    };
}
