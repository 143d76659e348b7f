namespace FlashAttn.Compute;

/// <summary>
/// Control over how the PTX backend leaves SSA. By default a phi shares the register of an operand that passes through to
/// it, so that edge copies nothing (<c>PtxPhiCoalescing</c>); that changes how ptxas allocates a kernel near its register
/// limit, and a few kernels run faster with every copy written. Such a kernel calls <see cref="KeepAll"/> (under a
/// specialised condition, so that only the specialisations measured that way are affected).
/// </summary>
public static class PhiCopies
{
    /// <summary>Every phi of this kernel gets its own register and a copy on every edge. No code, no effect on the CPU.</summary>
    [Intrinsic(IntrinsicOp.KeepPhiCopies)]
    public static void KeepAll() { }
}
