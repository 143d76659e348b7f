using FlashAttn.Compute;
using FlashAttn.Kernels;

namespace FlashAttn;

/// <summary>
/// Block sparsity (FlexAttention's BlockMask): for each (batch, head) and each block of <see cref="BlockSize"/> queries ×
/// <see cref="BlockSize"/> keys, whether a mask modifier hides all of it (<see cref="Empty"/>: the kernels skip it, no
/// load, no math), shows all of it (<see cref="Full"/>: no element test) or some (<see cref="Partial"/>: the element
/// test). Built on the device from the mask modifier (<see cref="AttentionLauncher.BuildBlockMask{TMask}"/>); a batch or
/// head stride of 0 shares one mask across batches or heads (document masks are usually per batch, not per head).
/// A kernel tile covering several mask blocks is empty when all are, full when all are, else partial.
/// </summary>
public readonly struct BlockMask(ArrayView<byte> blocks, long batchStride, long headStride, int queryBlocks, int keyBlocks)
{
    /// <summary>Queries and keys per mask block (a multiple of every kernel tile's step, so tiles cover whole blocks or parts of one).</summary>
    public const int BlockSize = 64;

    /// <summary>Every element hidden.</summary>
    public const byte Empty = 0;

    /// <summary>Some elements hidden.</summary>
    public const byte Partial = 1;

    /// <summary>No element hidden.</summary>
    public const byte Full = 2;

    /// <summary>The classes, (batches, heads, query blocks, key blocks) with the strides below.</summary>
    public ArrayView<byte> Blocks { get; } = blocks;

    /// <summary>Elements between batches (0: one mask for every batch).</summary>
    public long BatchStride { get; } = batchStride;

    /// <summary>Elements between heads (0: one mask for every head).</summary>
    public long HeadStride { get; } = headStride;

    /// <summary>⌈s_q / 64⌉.</summary>
    public int QueryBlocks { get; } = queryBlocks;

    /// <summary>⌈s_k / 64⌉.</summary>
    public int KeyBlocks { get; } = keyBlocks;

    /// <summary>Which allocation the mask came from (set by FlashAttention.CreateBlockMask; 0 otherwise): lets a call tell a
    /// live mask from a stale copy whose memory was freed and handed to another mask. The kernels never read it.</summary>
    public long Identity { get; init; }

    /// <summary>True when a mask is present (a default instance is none).</summary>
    public bool Present => QueryBlocks > 0;

    /// <summary>Elements of a mask for <paramref name="shape"/>: per batch and per head, or shared.</summary>
    public static long Elements(AttentionShape shape, bool perBatch, bool perHead)
        => (perBatch ? shape.Batch : 1L) * (perHead ? shape.HeadsQ : 1) * BlockCount(shape.SeqLenQ) * BlockCount(shape.SeqLenK);

    /// <summary>The view of <paramref name="blocks"/> (<see cref="Elements"/> long) as a mask for <paramref name="shape"/>.</summary>
    public static BlockMask For(AttentionShape shape, ArrayView<byte> blocks, bool perBatch, bool perHead)
    {
        int queryBlocks = BlockCount(shape.SeqLenQ), keyBlocks = BlockCount(shape.SeqLenK);
        long headStride = perHead ? (long)queryBlocks * keyBlocks : 0;
        long batchStride = perBatch ? (perHead ? shape.HeadsQ : 1) * (long)queryBlocks * keyBlocks : 0;
        return new BlockMask(blocks, batchStride, headStride, queryBlocks, keyBlocks);
    }

    /// <summary>
    /// Checks that the mask fits a call of <paramref name="batch"/> sequences, <paramref name="headsQ"/> query heads,
    /// s_q × s_k: ⌈s_q/64⌉ × ⌈s_k/64⌉ blocks for every batch and head it is read for.
    /// </summary>
    /// <exception cref="ArgumentException">It was built for another shape (ParamName "modifiers", where calls take it).</exception>
    public void CheckFits(int batch, int headsQ, int seqLenQ, int seqLenK)
    {
        if (!Present) return;
        long last = (batch - 1) * BatchStride + (headsQ - 1) * HeadStride + (long)QueryBlocks * KeyBlocks;
        if (QueryBlocks != BlockCount(seqLenQ) || KeyBlocks != BlockCount(seqLenK) || last > Blocks.Length)
            throw new ArgumentException($"The block mask ({QueryBlocks} × {KeyBlocks} blocks of {Blocks.Length} bytes) does not fit " +
                $"s_q = {seqLenQ}, s_k = {seqLenK}, b = {batch}, h_q = {headsQ}: build it for this shape.", "modifiers");
    }

    /// <summary>Mask blocks along a length.</summary>
    public static int BlockCount(int length) => (length + BlockSize - 1) / BlockSize;

    /// <summary>The class of block (qb, kb) of (batch, head).</summary>
    public byte Of(int batch, int head, int queryBlock, int keyBlock)
        => Blocks[batch * BatchStride + head * HeadStride + (long)queryBlock * KeyBlocks + keyBlock];

    /// <summary>The class of the kernel tile [q0, q0 + rows) × [k0, k0 + cols) (clipped to the mask).</summary>
    public byte TileOf(int batch, int head, int q0, int rows, int k0, int cols)
    {
        int qFirst = q0 / BlockSize, qLast = XMath.Min(QueryBlocks - 1, (q0 + rows - 1) / BlockSize);
        int kFirst = k0 / BlockSize, kLast = XMath.Min(KeyBlocks - 1, (k0 + cols - 1) / BlockSize);
        int union = Empty, intersection = Full;
        for (int qb = qFirst; qb <= qLast; qb++)
            for (int kb = kFirst; kb <= kLast; kb++)
            {
                byte kind = Of(batch, head, qb, kb);
                union |= kind;
                intersection &= kind;
            }
        // Empty when all are (OR 0), Full when all are (AND keeps Full's bit, which Partial and Empty lack), else Partial
        return union == Empty ? Empty : intersection == Full ? Full : Partial;
    }
}
