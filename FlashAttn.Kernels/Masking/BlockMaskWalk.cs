using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// A tensor-core kernel's walk along one line of tiles past those a block mask empties: the forward walks the key blocks
/// of its query rows, the backward the query blocks of its keys. Each warp looks the classes up 32 blocks at a time, one
/// block a lane (<see cref="ClassWindow"/>): a block's class costs a shuffle, the next block to visit one warp minimum
/// per window, and only every 32nd block waits for global loads. The minimum is one <c>redux.sync</c>, whose result ptxas
/// keeps in a uniform register, so the block index and what is computed from it stay uniform as a dense kernel's loop
/// counter does (by shuffles they were per-lane values: ptxas 11.8, ~90 more instructions a block than the dense loop).
/// A lookup per block waited a global load's latency in every iteration (H100, 2026-12-07, a block mask with every tile
/// full: 29k of the forward's 210k stall samples, 32k of the backward's 632k), and carrying it from one iteration to the
/// next made ptxas spill. Every lane of the warp calls it alike (the shuffle and the reduction need them all).
/// Without a block mask (per the specialised flags), every class is the constant Partial and the walk folds away.
/// </summary>
internal readonly struct BlockMaskWalk
{
    private const int WindowBlocks = 32;
    private readonly BlockMask blocks;
    private readonly bool active, alongKeys;
    private readonly int batch, head, lineStart, lineLength, step, end;

    private BlockMaskWalk(BlockMask blocks, bool active, bool alongKeys, int batch, int head, int lineStart, int lineLength, int step, int end)
    {
        this.blocks = blocks;
        this.active = active;
        this.alongKeys = alongKeys;
        this.batch = batch;
        this.head = head;
        this.lineStart = lineStart;
        this.lineLength = lineLength;
        this.step = step;
        this.end = end;
    }

    /// <summary>A walk over the key blocks of query rows [q0, q0 + rows), <paramref name="bc"/> keys per block, up to
    /// <paramref name="end"/>; with the block mask of <paramref name="modifiers"/> where <paramref name="flags"/> say it acts.</summary>
    public static BlockMaskWalk AlongKeys<TScore, TMask>(AttentionModifiers<TScore, TMask> modifiers, int flags, int batch, int head, int q0, int rows,
        int bc, int end) where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => new(modifiers.Blocks, Acts(modifiers, flags), true, batch, head, q0, rows, bc, end);

    /// <summary>A walk over the query blocks of keys [k0, k0 + cols), <paramref name="br"/> rows per block, up to
    /// <paramref name="end"/>; with the block mask of <paramref name="modifiers"/> where <paramref name="flags"/> say it acts.</summary>
    public static BlockMaskWalk AlongQueries<TScore, TMask>(AttentionModifiers<TScore, TMask> modifiers, int flags, int batch, int head, int k0,
        int cols, int br, int end) where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => new(modifiers.Blocks, Acts(modifiers, flags), false, batch, head, k0, cols, br, end);

    /// <summary>The window of blocks [<paramref name="first"/>, first + 32): each lane looks up its block's class.</summary>
    public ClassWindow WindowAt(int first)
    {
        int block = first + Warp.LaneIdx;
        int laneClass = BlockMask.Empty;
        if (active && block < end)
            laneClass = alongKeys
                ? blocks.TileOf(batch, head, lineStart, lineLength, block * step, step)
                : blocks.TileOf(batch, head, block * step, step, lineStart, lineLength);
        return new ClassWindow(first, laneClass);
    }

    /// <summary>The first block from <paramref name="from"/> on that the mask does not empty (at or past the line's end: none),
    /// moving <paramref name="window"/> on as far as it looks; <paramref name="from"/> itself without a block mask.</summary>
    public int Next(int from, ref ClassWindow window)
    {
        if (!active) return from;
        int lane = Warp.LaneIdx;
        while (from < end)
        {
            if (from >= window.Start + WindowBlocks) window = WindowAt(from);
            // the window's first lane at or past from's with a block the mask does not empty
            int found = Warp.Min(lane >= from - window.Start && window.LaneClass != BlockMask.Empty ? lane : WindowBlocks);
            if (found < WindowBlocks) return window.Start + found;
            from = window.Start + WindowBlocks;
        }
        return end;
    }

    /// <summary>The class of <paramref name="block"/>, which <paramref name="window"/> holds (the block <see cref="Next"/> found
    /// last): a shuffle, not a value carried through the loop (the forward spilled it, H100 2026-12-07). The constant Partial
    /// without a block mask, so that the kernels' per-class choices fold.</summary>
    public byte ClassOf(int block, ClassWindow window)
        => active ? (byte)Warp.Shuffle(window.LaneClass, block - window.Start) : BlockMask.Partial;

    private static bool Acts<TScore, TMask>(AttentionModifiers<TScore, TMask> modifiers, int flags)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => (flags & AttentionModifiers<TScore, TMask>.BlockMaskFlag) != 0;
}
