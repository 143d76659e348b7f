using System.Runtime.CompilerServices;
using FlashAttn.Dispatch;
using FlashAttn.Kernels;

namespace FlashAttn.Cpu;

/// <summary>
/// The class of each (query block, key block) tile of a dense call on the CPU path: <see cref="BlockMask.Empty"/> (the
/// passes skip it), <see cref="BlockMask.Full"/> (no mask-modifier test) or <see cref="BlockMask.Partial"/>. The path's
/// blocks are the block mask's blocks, so a tile is one mask block; without a block mask every tile is Partial and the
/// mask modifier (if any) alone decides. The mask is host memory on the CPU device, read directly.
/// </summary>
internal readonly struct CpuTiles
{
    // the lookup is one mask block per tile only while both sides block by 64 (a division by zero otherwise: no build)
    private const int SameBlocks = 1 / (CpuAttentionLayout.Block == BlockMask.BlockSize ? 1 : 0);

    private readonly BlockMask _mask;

    private CpuTiles(BlockMask mask) => _mask = mask;

    /// <summary>No block mask: every tile Partial (varlen and KV-cache sequences, whose shapes no block mask is built for).</summary>
    public static CpuTiles None => default;

    /// <summary>The tiles of <paramref name="mask"/> (none when absent) for the dense call <paramref name="problem"/>.</summary>
    /// <exception cref="ArgumentException">The mask was built for another shape (<see cref="BlockMask.CheckFits"/>, as the GPU launcher).</exception>
    public static CpuTiles For(BlockMask mask, AttentionProblem problem)
    {
        if (!mask.Present) return None;
        mask.CheckFits(problem.Batch, problem.HeadsQ, problem.SeqLenQ, problem.SeqLenK);
        return new CpuTiles(mask);
    }

    /// <summary>A block mask is read.</summary>
    public bool Present => _mask.Present;

    /// <summary>The class of tile (<paramref name="queryBlock"/>, <paramref name="keyBlock"/>) of batch <paramref name="b"/>, query head <paramref name="h"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte Of(int b, int h, int queryBlock, int keyBlock) => _mask.Present ? _mask.Of(b, h, queryBlock, keyBlock) : BlockMask.Partial;
}
