using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>Stages the K and V rows of one key block of a sequence into a shared stage (K rows, then V rows).</summary>
internal static class KeyValueBlock
{
    /// <summary>
    /// Starts staging the <paramref name="rows"/> keys from <paramref name="k0"/> of sequence <paramref name="seq"/>. A block
    /// lies in one page when pages are at least a block long (both powers of two), so only <paramref name="pagedRows"/>
    /// (shorter pages) looks rows up one by one. Every thread of the group calls; the caller waits and places the barrier.
    /// </summary>
    public static void Load<T, TStorage>(ArrayView<T> k, ArrayView<T> v, SequenceInfo sequences, TokenLayout layout,
        SequenceBounds seq, int k0, int kvHead, AttentionParams p, int kind, bool pagedRows, ArrayView<T> stage,
        int rows, TensorCoreTile tile, bool chunked)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T>
    {
        int elements = rows * tile.Stride, validRows = XMath.Min(rows, seq.KeyLength - k0);
        var kTile = stage.SubView(0, elements);
        var vTile = stage.SubView(elements, elements);
        if (pagedRows)
        {
            var pages = new PagedKeyRows(sequences, layout, seq, k0, kvHead, p);
            TensorCoreTileLoader.LoadRows<T, TStorage, PagedKeyRows>(k, pages, validRows, p.HeadDim, kTile, tile.Stride, rows, tile.HeadDimPadded, tile.Threads, chunked);
            TensorCoreTileLoader.LoadRows<T, TStorage, PagedKeyRows>(v, pages, validRows, p.HeadDim, vTile, tile.Stride, rows, tile.HeadDimPadded, tile.Threads, chunked);
            return;
        }
        long first = sequences.KeyRowStart(layout, seq, k0, kvHead, p, kind);
        TensorCoreTileLoader.Load<T, TStorage>(k, first, layout.PositionStride, validRows, p.HeadDim, kTile, tile.Stride, rows, tile.HeadDimPadded, tile.Threads, chunked,
            tile.ForwardPlainCopiesOfWholeTiles, walk: true);
        TensorCoreTileLoader.Load<T, TStorage>(v, first, layout.PositionStride, validRows, p.HeadDim, vTile, tile.Stride, rows, tile.HeadDimPadded, tile.Threads, chunked,
            tile.ForwardPlainCopiesOfWholeTiles, walk: true);
    }
}
