namespace FlashAttn.Kernels;

/// <summary>A warp's window onto the tile classes of a <see cref="BlockMaskWalk"/>: blocks [<see cref="Start"/>, Start + 32) as
/// two bit sets, bit i for block Start + i, the same in every lane (two ballots by warp or): those the mask does not empty (none past
/// the walk's end) and those it marks full. Finding the next block and a block's class are then bit operations on values
/// ptxas keeps in uniform registers, with no warp exchange per block (a shuffle and a warp minimum a block before,
/// whose convergence handling nested six BSSY/BSYNC pairs into the forward's loop: ptxas 11.8, 2026-12-07).</summary>
internal readonly struct ClassWindow(int start, uint visible, uint full)
{
    /// <summary>The window's first block.</summary>
    public int Start { get; } = start;

    /// <summary>Bit i: block Start + i is not empty.</summary>
    public uint Visible { get; } = visible;

    /// <summary>Bit i: block Start + i is full (no element test).</summary>
    public uint Full { get; } = full;
}
