namespace FlashAttn.Kernels;

/// <summary>A warp's window onto the tile classes of a <see cref="BlockMaskWalk"/>: blocks [<see cref="Start"/>, Start + 32),
/// lane i holding the class of block Start + i (Empty past the walk's end).</summary>
internal readonly struct ClassWindow(int start, byte laneClass)
{
    /// <summary>The window's first block.</summary>
    public int Start { get; } = start;

    /// <summary>This lane's block's class.</summary>
    public byte LaneClass { get; } = laneClass;
}
