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
}
