using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Compute;

/// <summary>Warp-level operations: the 32 threads of a warp exchange registers without shared memory.</summary>
/// <remarks>All 32 lanes of the warp must call a shuffle together (PTX shfl.sync with a full member mask).</remarks>
public static class Warp
{
    /// <summary>Threads per warp.</summary>
    public const int Size = 32;

    /// <summary>Lane of this thread in its warp, 0…31 (PTX %laneid).</summary>
    public static int LaneIdx { [Intrinsic(IntrinsicOp.LaneIdx)] get => CpuContext.Current.LaneIndex; }

    /// <summary>Index of this thread's warp in its group.</summary>
    public static int WarpIdx => Group.LinearIndex / Size;

    /// <summary>Waits for every lane of the warp (bar.warp.sync).</summary>
    [Intrinsic(IntrinsicOp.WarpBarrier)]
    public static void Barrier() => CpuContext.Current.WarpBarrier();

    /// <summary>Value of <paramref name="value"/> in lane <paramref name="sourceLane"/>.</summary>
    [Intrinsic(IntrinsicOp.ShuffleIdx)]
    public static int Shuffle(int value, int sourceLane) => CpuContext.Current.Shuffle(value, sourceLane, ShuffleMode.Index);
    /// <summary>Value of <paramref name="value"/> in lane <paramref name="sourceLane"/>.</summary>
    [Intrinsic(IntrinsicOp.ShuffleIdx)]
    public static float Shuffle(float value, int sourceLane) => BitConverter.Int32BitsToSingle(Shuffle(BitConverter.SingleToInt32Bits(value), sourceLane));

    /// <summary>Value of <paramref name="value"/> in lane <c>LaneIdx ^ laneMask</c> (butterfly).</summary>
    [Intrinsic(IntrinsicOp.ShuffleXor)]
    public static int ShuffleXor(int value, int laneMask) => CpuContext.Current.Shuffle(value, laneMask, ShuffleMode.Xor);
    /// <summary>Value of <paramref name="value"/> in lane <c>LaneIdx ^ laneMask</c> (butterfly).</summary>
    [Intrinsic(IntrinsicOp.ShuffleXor)]
    public static float ShuffleXor(float value, int laneMask) => BitConverter.Int32BitsToSingle(ShuffleXor(BitConverter.SingleToInt32Bits(value), laneMask));

    /// <summary>Value of <paramref name="value"/> in lane <c>LaneIdx - delta</c>; lanes below delta keep their own.</summary>
    [Intrinsic(IntrinsicOp.ShuffleUp)]
    public static int ShuffleUp(int value, int delta) => CpuContext.Current.Shuffle(value, delta, ShuffleMode.Up);
    /// <summary>Value of <paramref name="value"/> in lane <c>LaneIdx - delta</c>; lanes below delta keep their own.</summary>
    [Intrinsic(IntrinsicOp.ShuffleUp)]
    public static float ShuffleUp(float value, int delta) => BitConverter.Int32BitsToSingle(ShuffleUp(BitConverter.SingleToInt32Bits(value), delta));

    /// <summary>Value of <paramref name="value"/> in lane <c>LaneIdx + delta</c>; lanes past 31 keep their own.</summary>
    [Intrinsic(IntrinsicOp.ShuffleDown)]
    public static int ShuffleDown(int value, int delta) => CpuContext.Current.Shuffle(value, delta, ShuffleMode.Down);
    /// <summary>Value of <paramref name="value"/> in lane <c>LaneIdx + delta</c>; lanes past 31 keep their own.</summary>
    [Intrinsic(IntrinsicOp.ShuffleDown)]
    public static float ShuffleDown(float value, int delta) => BitConverter.Int32BitsToSingle(ShuffleDown(BitConverter.SingleToInt32Bits(value), delta));

    /// <summary>Sum of <paramref name="value"/> over the warp, returned in every lane (butterfly reduction).</summary>
    public static float Sum(float value)
    {
        for (int mask = Size / 2; mask > 0; mask /= 2)
            value += ShuffleXor(value, mask);
        return value;
    }

    /// <summary>Sum of <paramref name="value"/> over the warp (wrapping), returned in every lane: one <c>redux.sync</c> on
    /// sm_80 and newer, whose result ptxas keeps in a uniform register (so what is computed from it stays on the uniform
    /// datapath, and branches on it are uniform); five shuffles before.</summary>
    [Intrinsic(IntrinsicOp.WarpReduceAdd)]
    public static int Sum(int value) => CpuContext.Current.WarpReduce(value, WarpReduction.Add);

    /// <summary>Signed minimum of <paramref name="value"/> over the warp, returned in every lane (as <see cref="Sum(int)"/>).</summary>
    [Intrinsic(IntrinsicOp.WarpReduceMin)]
    public static int Min(int value) => CpuContext.Current.WarpReduce(value, WarpReduction.Min);

    /// <summary>Maximum of <paramref name="value"/> over the warp, returned in every lane.</summary>
    public static float Max(float value)
    {
        for (int mask = Size / 2; mask > 0; mask /= 2)
            value = XMath.Max(value, ShuffleXor(value, mask));
        return value;
    }

    /// <summary>Signed maximum of <paramref name="value"/> over the warp, returned in every lane (as <see cref="Sum(int)"/>).</summary>
    [Intrinsic(IntrinsicOp.WarpReduceMax)]
    public static int Max(int value) => CpuContext.Current.WarpReduce(value, WarpReduction.Max);

    /// <summary>Bitwise or of <paramref name="value"/> over the warp, returned in every lane: one <c>redux.sync</c> on sm_80 and
    /// newer, whose result ptxas keeps in a uniform register (as <see cref="Sum(int)"/>); five shuffles before. Lanes that set
    /// their own bit make a ballot whose result stays uniform.</summary>
    [Intrinsic(IntrinsicOp.WarpReduceOr)]
    public static int Or(int value) => CpuContext.Current.WarpReduce(value, WarpReduction.Or);

    /// <summary>The warp's predicates as bits, returned in every lane: bit i is lane i's <paramref name="predicate"/> (lanes that
    /// do not exist give 0). One <c>vote.sync.ballot</c>, whose result ptxas keeps in a plain register (<c>VOTE.ANY R</c>), so
    /// what is computed from it is per lane for ptxas; <see cref="Or(int)"/> of <c>1 &lt;&lt; LaneIdx</c> gives the same bits in a
    /// uniform one.</summary>
    [Intrinsic(IntrinsicOp.WarpBallot)]
    public static uint Ballot(bool predicate) => (uint)CpuContext.Current.WarpReduce(predicate ? 1 << LaneIdx : 0, WarpReduction.Add);

    /// <summary>Inclusive prefix sum over the lanes (lane i gets the sum of lanes 0…i).</summary>
    public static int InclusiveScan(int value)
    {
        int lane = LaneIdx;
        for (int delta = 1; delta < Size; delta *= 2)
        {
            int other = ShuffleUp(value, delta);
            if (lane >= delta) value += other;
        }
        return value;
    }
}
