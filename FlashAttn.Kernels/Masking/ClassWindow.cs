using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>A warp's window onto the tile classes of a <see cref="BlockMaskWalk"/>: blocks [<see cref="Start"/>, Start + 32),
/// lane i holding the class of block Start + i (Empty past the walk's end). The class is kept as an int: as a byte it was a
/// 16-bit register whose merges waited for the spilled window's reload in the forward's loop (ptxas, H100 2026-12-07).</summary>
internal readonly struct ClassWindow(int start, int laneClass)
{
    /// <summary>The window's first block.</summary>
    public int Start { get; } = start;

    /// <summary>This lane's block's class.</summary>
    public int LaneClass { get; } = laneClass;

    /// <summary>Ints a lane needs to keep its part of a window in memory (<see cref="Store"/>).</summary>
    public const int SlotInts = 2;

    /// <summary>Keeps this lane's part of the window in <paramref name="slots"/> (<see cref="SlotInts"/> of the lane's own:
    /// no lane reads another's, so no warp barrier), for a loop that cannot spare the registers between its blocks.</summary>
    public void Store(ArrayView<int> slots)
    {
        slots[0] = Start;
        slots[1] = LaneClass;
    }

    /// <summary>The window <see cref="Store"/> kept in <paramref name="slots"/>.</summary>
    public static ClassWindow Load(ArrayView<int> slots) => new(slots[0], slots[1]);
}
