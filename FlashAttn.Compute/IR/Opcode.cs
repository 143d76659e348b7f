namespace FlashAttn.Compute.IR;

/// <summary>IR operations. Operand conventions are given per opcode; arithmetic works on integers or floats by type.</summary>
public enum Opcode
{
    // ---- arithmetic: operands and result share one type --------------------------------------
    /// <summary>a + b.</summary>
    Add,
    /// <summary>a - b.</summary>
    Sub,
    /// <summary>a · b.</summary>
    Mul,
    /// <summary>a / b (signed for integers).</summary>
    Div,
    /// <summary>a / b, unsigned integers.</summary>
    DivUn,
    /// <summary>a % b (signed for integers; C# semantics for floats).</summary>
    Rem,
    /// <summary>a % b, unsigned integers.</summary>
    RemUn,
    /// <summary>-a.</summary>
    Neg,
    /// <summary>Bitwise and (Bool too).</summary>
    And,
    /// <summary>Bitwise or (Bool too).</summary>
    Or,
    /// <summary>Bitwise xor (Bool too).</summary>
    Xor,
    /// <summary>Bitwise not (Bool too).</summary>
    Not,
    /// <summary>a &lt;&lt; b (b: same type; only the low bits of b count, as in C#).</summary>
    Shl,
    /// <summary>Arithmetic a &gt;&gt; b.</summary>
    Shr,
    /// <summary>Logical a &gt;&gt;&gt; b.</summary>
    ShrUn,

    // ---- comparison and selection ---------------------------------------------------------------
    /// <summary>(a, b) → Bool by <see cref="Instruction.Compare"/>.</summary>
    Cmp,
    /// <summary>(condition: Bool, ifTrue, ifFalse) → the type of ifTrue.</summary>
    Select,
    /// <summary>(a) → <see cref="Value.Type"/>. Integer widening sign-extends unless <see cref="Instruction.Unsigned"/>;
    /// narrowing truncates; int→float reads the source as unsigned when <see cref="Instruction.Unsigned"/>;
    /// float→int truncates toward zero (to unsigned when <see cref="Instruction.Unsigned"/>); Bool→int gives 0/1.</summary>
    Convert,

    // ---- memory ---------------------------------------------------------------------------------
    /// <summary>() → ptr.local to <see cref="Instruction.AllocaSize"/> bytes aligned to <see cref="Instruction.Alignment"/>.
    /// Lives in the entry block. Register arrays and struct locals start as allocas.</summary>
    Alloca,
    /// <summary>(ptr) → a value of <see cref="Value.Type"/> read at ptr. <see cref="Instruction.Alignment"/> is what is known of ptr's alignment.</summary>
    Load,
    /// <summary>(ptr, value): writes value at ptr.</summary>
    Store,
    /// <summary>(ptr, offset: Int64) → ptr + offset bytes, same address space.</summary>
    PtrAdd,
    /// <summary>(ptr) → Int64.</summary>
    PtrToInt,
    /// <summary>(Int64) → pointer of <see cref="Value.Type"/>.</summary>
    IntToPtr,
    /// <summary>(ptr) → the same address as a pointer of another space (cvta).</summary>
    AddrSpaceCast,

    // ---- calls ----------------------------------------------------------------------------------
    /// <summary>(args…) → calls <see cref="Instruction.Callee"/>; inlined away before code generation.</summary>
    Call,
    /// <summary>(args…) → a programming-model operation <see cref="Instruction.Intrinsic"/>; see <see cref="IntrinsicOp"/>.
    /// SharedAllocate/LocalAllocate carry their element type in <see cref="Instruction.ElementType"/> and
    /// their element count as operand 0 (a constant by code-generation time).</summary>
    Intrinsic,
    /// <summary>(aggregate) → component <see cref="Instruction.Index"/> of a multi-result intrinsic (one whose model
    /// method returns a struct, e.g. an mma's four accumulators), of <see cref="Value.Type"/>. The aggregate itself is
    /// typed Void; its Extracts follow it in the same block.</summary>
    Extract,

    // ---- control flow (terminators last in their block, except Phi which comes first) ----------
    /// <summary>SSA merge: operand i arrives from <see cref="Instruction.PhiBlocks"/>[i].</summary>
    Phi,
    /// <summary>Unconditional jump to <see cref="Instruction.Targets"/>[0].</summary>
    Br,
    /// <summary>(condition: Bool) → jump to Targets[0] when true, Targets[1] when false.</summary>
    CondBr,
    /// <summary>(value?) → return from the function.</summary>
    Ret,
    /// <summary>Control never reaches here.</summary>
    Unreachable,
}

/// <summary>Comparison predicates. For floats, the ordered forms are false on NaN; the Un forms are true on NaN.</summary>
public enum CompareKind
{
    /// <summary>a == b (floats: ordered).</summary>
    Eq,
    /// <summary>a != b (floats: unordered, true on NaN, as C#'s !=).</summary>
    Ne,
    /// <summary>Signed / ordered a &lt; b.</summary>
    Lt,
    /// <summary>Signed / ordered a ≤ b.</summary>
    Le,
    /// <summary>Signed / ordered a &gt; b.</summary>
    Gt,
    /// <summary>Signed / ordered a ≥ b.</summary>
    Ge,
    /// <summary>Unsigned / unordered a &lt; b.</summary>
    LtUn,
    /// <summary>Unsigned / unordered a ≤ b.</summary>
    LeUn,
    /// <summary>Unsigned / unordered a &gt; b.</summary>
    GtUn,
    /// <summary>Unsigned / unordered a ≥ b.</summary>
    GeUn,
}
