namespace FlashAttn.Kernels;

/// <summary>Where each row of a tile starts in its tensor, for tiles whose rows are not evenly spaced (GQA-packed query
/// rows, keys across pages). Struct implementations are inlined into the loaders.</summary>
internal interface ITileRows
{
    /// <summary>Index of column 0 of tile row <paramref name="row"/>.</summary>
    long RowStart(int row);
}

/// <summary>
/// GQA packing: the rows of a query tile are (position, query head) pairs of one kv head, heads fastest: packed row r is
/// position r / G and head kvHead·G + r mod G (G = h_q / h_kv), so one group serves every query head that reads the same
/// keys. The one place this mapping is written.
/// </summary>
internal readonly struct PackedQueryRows(TokenLayout layout, SequenceBounds bounds, int firstRow, int kvHead, int packedHeads) : ITileRows
{
    /// <summary>Query position of packed row <paramref name="packedRow"/>.</summary>
    public static int Position(int packedRow, int packedHeads) => packedRow / packedHeads;

    /// <summary>Query head of packed row <paramref name="packedRow"/>.</summary>
    public static int Head(int packedRow, int kvHead, int packedHeads) => kvHead * packedHeads + packedRow % packedHeads;

    /// <inheritdoc/>
    public long RowStart(int row)
    {
        int packed = firstRow + row;
        return bounds.QueryRowStart(layout, Position(packed, packedHeads), Head(packed, kvHead, packedHeads));
    }
}

/// <summary>Keys from <paramref name="firstKey"/> of a sequence of a paged cache, read through its block table.</summary>
internal readonly struct PagedKeyRows(SequenceInfo sequences, TokenLayout layout, SequenceBounds bounds, int firstKey, int kvHead,
    AttentionParams p) : ITileRows
{
    /// <inheritdoc/>
    public long RowStart(int row) => sequences.KeyRowStart(layout, bounds, firstKey + row, kvHead, p, SequenceKind.PagedKvCache);
}
