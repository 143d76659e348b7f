using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Builds a <see cref="BlockMask"/> from a mask modifier on the device: one group per (key block, query block, batch·head
/// of the mask), each thread testing its share of the block's elements inside s_q × s_k; the group's verdicts meet in
/// shared memory. Only the modifier decides: the kernels apply the causal and window masks themselves.
/// </summary>
internal static class BlockMaskBuilderKernel
{
    /// <summary>Threads per group.</summary>
    public const int Threads = 256;

    /// <summary>The kernel; grid (key blocks, query blocks, mask batches · mask heads).</summary>
    public static void Build<TMask>(BlockMask blockMask, TMask mask, AttentionParams p, int maskHeads) where TMask : struct, IMaskModifier
    {
        int kb = Grid.IdxX, qb = Grid.IdxY, batch = Grid.IdxZ / maskHeads, head = Grid.IdxZ % maskHeads;
        int q0 = qb * BlockMask.BlockSize, k0 = kb * BlockMask.BlockSize, offset = p.CausalBottomRight ? p.SeqLenK - p.SeqLenQ : 0;
        var verdicts = SharedMemory.Allocate<int>(2 * Threads);
        int any = 0, all = 1;
        for (int e = Group.IdxX; e < BlockMask.BlockSize * BlockMask.BlockSize; e += Threads)
        {
            int query = q0 + e / BlockMask.BlockSize, key = k0 + e % BlockMask.BlockSize;
            if (query >= p.SeqLenQ || key >= p.SeqLenK) continue;
            bool visible = mask.Visible(new ScorePosition(batch, head, query, key, query + offset));
            any |= visible ? 1 : 0;
            all &= visible ? 1 : 0;
        }
        verdicts[Group.IdxX] = any;
        verdicts[Threads + Group.IdxX] = all;
        Group.Barrier();
        if (Group.IdxX != 0) return;
        for (int t = 1; t < Threads; t++)
        {
            any |= verdicts[t];
            all &= verdicts[Threads + t];
        }
        long at = batch * blockMask.BatchStride + head * blockMask.HeadStride + (long)qb * blockMask.KeyBlocks + kb;
        blockMask.Blocks[at] = any == 0 ? BlockMask.Empty : all != 0 ? BlockMask.Full : BlockMask.Partial;
    }
}
