using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// The Hopper forward's tile for one head dim (<see cref="FlashForwardWarpGroupKernel"/>): consumer warpgroups of 64 query
/// rows each (FA3's choice: three at d = 64, where a block's products are short and a third warpgroup keeps the tensor cores
/// busy, two at d = 128 and 256), the producer warpgroup beside them, and what follows: Br, Bc, threads, registers, shared
/// memory.
/// </summary>
internal readonly struct WarpGroupTile(int headDim, int consumerGroups, bool pingPong)
{
    /// <summary>Stages of the K ring and of the V ring.</summary>
    public const int Stages = 2;

    /// <summary>Head dims of one panel: a 128-byte swizzled row.</summary>
    public const int PanelHalves = 64;

    /// <summary>Bytes of a panel's row, and of the swizzle's atom of 8 rows (the alignment of every tile).</summary>
    public const int RowBytes = 2 * PanelHalves, AtomBytes = 8 * RowBytes;

    /// <summary>The producer's registers per thread (setmaxnreg).</summary>
    public const int ProducerRegisters = 24;

    /// <summary>Threads of a group with two and with three consumer warpgroups (the kernels' launch bounds).</summary>
    public const int TwoConsumerThreads = 3 * WarpGroupMma.Threads, ThreeConsumerThreads = 4 * WarpGroupMma.Threads;

    /// <summary>Head dim d (64, 128 or 256).</summary>
    public readonly int HeadDim = headDim;

    /// <summary>Consumer warpgroups.</summary>
    public readonly int ConsumerGroups = consumerGroups;

    /// <summary>Whether two consumers take turns to issue their products (FA3's ping-pong).</summary>
    public readonly bool PingPong = pingPong;

    /// <summary>
    /// The tile of <paramref name="headDim"/>. The measured one (H100, 2026-12-08, 76abdb7): two consumers without turns, at d = 64
    /// and 128. With <paramref name="fa3Tiles"/>, FA3's: three consumers at d = 64, two taking turns at d = 128 and 256
    /// (correct on the CPU's models; not yet run on a GPU, so not the default: <see cref="AttentionLauncher.WarpGroupFa3Tiles"/>).
    /// </summary>
    public static WarpGroupTile For(int headDim, bool fa3Tiles)
        => fa3Tiles ? new(headDim, headDim == 64 ? 3 : 2, headDim != 64) : new(headDim, 2, false);

    /// <summary>True for the head dims the tiles of <see cref="For"/> cover: 64 and 128, and 256 with FA3's.</summary>
    public static bool Covers(int headDim, bool fa3Tiles) => headDim is 64 or 128 || (fa3Tiles && headDim == 256);

    /// <summary>Query rows of a group (Br).</summary>
    public int BlockRows => 64 * ConsumerGroups;

    /// <summary>Keys of a block (Bc): 128, or 80 at d = 256 (FA3's tile: O's 128 accumulators a thread and the tiles' 224 KB of
    /// shared memory leave room for no more).</summary>
    public int BlockCols => HeadDim == 256 ? 80 : 128;

    /// <summary>Threads of a group: the producer warpgroup and the consumers.</summary>
    public int Threads => (1 + ConsumerGroups) * WarpGroupMma.Threads;

    /// <summary>Panels of 64 head dims a tile row spans.</summary>
    public int Panels => HeadDim / PanelHalves;

    /// <summary>The consumers' registers per thread (setmaxnreg): what the producer's 24 leave of the 64 K a group may hold,
    /// 128·24 + 256·240 and 128·24 + 384·160 = 64 512.</summary>
    public int ConsumerRegisters => ConsumerGroups == 3 ? 160 : 240;

    /// <summary>Bytes of Q's tile and of one K or V tile.</summary>
    public int QueryBytes => 2 * BlockRows * HeadDim;

    /// <inheritdoc cref="QueryBytes"/>
    public int KeyValueBytes => 2 * BlockCols * HeadDim;

    /// <summary>Dynamic shared memory: Q, the K ring, the V ring, and the slack that aligns the first to an atom.</summary>
    public int SharedBytes => AtomBytes + QueryBytes + 2 * Stages * KeyValueBytes;
}
