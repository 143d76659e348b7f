namespace FlashAttn.Kernels;

/// <summary>
/// Positions [<see cref="Start"/>, <see cref="Start"/> + <see cref="Count"/>) of every (batch, head) of a dense
/// q/k/v/o-like tensor with <see cref="SeqLen"/> positions, and the contiguous tensor that holds just those positions
/// (same layout, <see cref="Count"/> positions): how ring attention addresses the part of a rank's shard that one
/// block of its schedule reads or writes. A per-row statistic (log-sum-exp, (b, h, s)) is the same slice with
/// head_dim 1 in the (b, h, s, d) layout.
/// </summary>
public readonly struct RowSlice(int batch, int seqLen, int heads, int headDim, AttentionLayout layout, int start, int count)
{
    /// <summary>Batch size.</summary>
    public readonly int Batch = batch;

    /// <summary>Positions of the whole tensor.</summary>
    public readonly int SeqLen = seqLen;

    /// <summary>Heads.</summary>
    public readonly int Heads = heads;

    /// <summary>Elements per (batch, position, head).</summary>
    public readonly int HeadDim = headDim;

    /// <summary>Dimension order of both the whole tensor and the slice's own tensor.</summary>
    public readonly AttentionLayout Layout = layout;

    /// <summary>First position of the slice.</summary>
    public readonly int Start = start;

    /// <summary>Positions in the slice.</summary>
    public readonly int Count = count;

    /// <summary>The per-row statistics (b, h, s) of the same rows: head_dim 1 in the (b, h, s, d) order.</summary>
    public RowSlice Statistics => new(Batch, SeqLen, Heads, 1, AttentionLayout.BatchHeadSeqDim, Start, Count);

    /// <summary>The same positions of a tensor with <paramref name="heads"/> heads (keys and values under GQA).</summary>
    public RowSlice WithHeads(int heads) => new(Batch, SeqLen, heads, HeadDim, Layout, Start, Count);

    /// <summary>Elements of the slice's own tensor.</summary>
    public long Elements => (long)Batch * Count * Heads * HeadDim;

    /// <summary>Elements of the whole tensor.</summary>
    public long WholeElements => (long)Batch * SeqLen * Heads * HeadDim;

    /// <summary>(batch, position, head) rows of the slice.</summary>
    public long Rows => (long)Batch * Count * Heads;

    /// <summary>True when the slice is the whole tensor.</summary>
    public bool IsWhole => Start == 0 && Count == SeqLen;

    internal TokenLayout Whole => TokenLayout.Of(Layout, SeqLen, Heads, HeadDim);

    internal TokenLayout Part => TokenLayout.Of(Layout, Count, Heads, HeadDim);

    /// <summary>Where element <paramref name="element"/> of a (b, count, h, d) walk lies in the slice's own tensor
    /// (<paramref name="inPart"/>) and in the whole one (returned).</summary>
    internal long Locate(long element, out long inPart)
    {
        int x = TokenLayout.Locate(element, Count, Heads, HeadDim, out int batch, out int position, out int head);
        inPart = Part.RowStart(batch, position, head) + x;
        return Whole.RowStart(batch, Start + position, head) + x;
    }

    /// <summary>Where row <paramref name="row"/> of a (b, count, h) walk starts (its <see cref="HeadDim"/> elements are
    /// contiguous) in the slice's own tensor (<paramref name="inPart"/>) and in the whole one (returned).</summary>
    internal long LocateRow(long row, out long inPart) => Locate(row * HeadDim, out inPart);
}
