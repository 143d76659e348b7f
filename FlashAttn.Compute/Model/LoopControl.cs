namespace FlashAttn.Compute;

/// <summary>
/// Control over the compiler's full unrolling of constant-trip-count loops. Unrolling is what turns register
/// arrays into registers, but a kernel whose unrolled body outgrows the instruction cache stalls on instruction
/// fetch; an outer loop bounded by <see cref="RuntimeBound"/> stays a loop while the loops inside it still unroll.
/// </summary>
public static class LoopControl
{
    /// <summary>Returns <paramref name="bound"/> unchanged, as a value the compiler may not treat as a constant.</summary>
    [Intrinsic(IntrinsicOp.RuntimeValue)]
    public static int RuntimeBound(int bound) => bound;
}
