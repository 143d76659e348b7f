namespace FlashAttn.Compute;

/// <summary>
/// Warpgroup-wide register reallocation (<c>setmaxnreg</c>, <c>sm_90a</c>): in a warp-specialised kernel the producer
/// warpgroup gives registers back and the consumer warpgroups take them. All 128 threads of a warpgroup call it together;
/// the kernel needs launch bounds (<see cref="LaunchBoundsAttribute"/>) so that ptxas starts from a register cap, and each
/// role's call sits in one branch of the role test. A module that uses it targets <c>sm_90a</c>. Nothing happens on the CPU.
/// </summary>
public static class WarpGroup
{
    /// <summary>setmaxnreg.inc: raises this warpgroup's registers per thread to <paramref name="registers"/> (a constant,
    /// a multiple of 8 from 24 to 256), waiting until the SM has them free.</summary>
    [Intrinsic(IntrinsicOp.WarpGroupIncreaseRegisters)]
    public static void IncreaseRegisters(int registers) { _ = registers; }

    /// <summary>setmaxnreg.dec: lowers this warpgroup's registers per thread to <paramref name="registers"/> (a constant, a
    /// multiple of 8 from 24 to 256), releasing the rest to the SM.</summary>
    [Intrinsic(IntrinsicOp.WarpGroupDecreaseRegisters)]
    public static void DecreaseRegisters(int registers) { _ = registers; }
}
