using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>Stages tiles of (seq, head_dim) rows from device memory into fp32 shared memory.</summary>
internal static class TileLoader
{
    /// <summary>
    /// Copies <paramref name="validRows"/> rows of <paramref name="headDim"/> elements, starting at
    /// <paramref name="first"/> with <paramref name="rowStride"/> elements between rows, into the shared tile
    /// (<paramref name="tileRows"/> rows × HeadDimPadded, row stride TileStride),
    /// widened to fp32. Rows past <paramref name="validRows"/> and columns past d are zero-filled.
    /// Every thread of the group calls it; the caller places the barrier.
    /// </summary>
    public static void LoadRows<T, TStorage>(ArrayView<T> source, long first, long rowStride, int validRows, int headDim,
        ArrayView<float> destination, int tileRows, AttentionTileConfig tile)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int width = tile.HeadDimPadded, stride = tile.TileStride;
        for (int e = Group.IdxX; e < tileRows * width; e += tile.Threads)
        {
            int r = e / width, c = e % width;
            destination[r * stride + c] = r < validRows && c < headDim ? TStorage.Load(source[first + r * rowStride + c]) : 0f;
        }
    }

    /// <summary>
    /// As <see cref="LoadRows{T, TStorage}"/> for rows that are not evenly spaced: tile row r starts at
    /// <paramref name="rowStarts"/>.RowStart(r) (keys of pages shorter than a block).
    /// </summary>
    public static void LoadRows<T, TStorage, TRows>(ArrayView<T> source, TRows rowStarts, int validRows, int headDim,
        ArrayView<float> destination, int tileRows, AttentionTileConfig tile)
        where T : unmanaged where TStorage : struct, IStorage<T> where TRows : struct, ITileRows
    {
        int width = tile.HeadDimPadded, stride = tile.TileStride;
        for (int e = Group.IdxX; e < tileRows * width; e += tile.Threads)
        {
            int r = e / width, c = e % width;
            destination[r * stride + c] = r < validRows && c < headDim ? TStorage.Load(source[rowStarts.RowStart(r) + c]) : 0f;
        }
    }

    /// <summary>
    /// Stages K_j and V_j: the Bc keys from <paramref name="k0"/> of sequence <paramref name="seq"/> (zero past its
    /// keys), kv head <paramref name="kvHead"/>. Keys are evenly spaced except in a paged cache whose pages are not a
    /// whole number of blocks: then a block may cross pages and its rows are looked up one by one. The caller places
    /// the barrier.
    /// </summary>
    public static void LoadKeyValueBlock<T, TStorage>(ArrayView<T> k, ArrayView<T> v, SequenceInfo sequences, TokenLayout layout,
        SequenceBounds seq, int k0, int kvHead, AttentionParams p, int kind, ArrayView<float> kTile, ArrayView<float> vTile,
        AttentionTileConfig tile)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int bc = tile.BlockCols, validKeys = XMath.Min(bc, seq.KeyLength - k0);
        if (kind == SequenceKind.PagedKvCache && p.SeqLenK % bc != 0) // page size = p.SeqLenK; blocks start at multiples of Bc
        {
            var pages = new PagedKeyRows(sequences, layout, seq, k0, kvHead, p);
            LoadRows<T, TStorage, PagedKeyRows>(k, pages, validKeys, p.HeadDim, kTile, bc, tile);
            LoadRows<T, TStorage, PagedKeyRows>(v, pages, validKeys, p.HeadDim, vTile, bc, tile);
            return;
        }
        long first = sequences.KeyRowStart(layout, seq, k0, kvHead, p, kind);
        LoadRows<T, TStorage>(k, first, layout.PositionStride, validKeys, p.HeadDim, kTile, bc, tile);
        LoadRows<T, TStorage>(v, first, layout.PositionStride, validKeys, p.HeadDim, vTile, bc, tile);
    }

    /// <summary>
    /// Starts staging <paramref name="rows"/> rows (of which <paramref name="validRows"/> exist) of d elements into a
    /// shared tile of <paramref name="width"/> columns and row stride <paramref name="stride"/>, in 4-element chunks
    /// (<see cref="IStorage{T}.StageFour"/>: in the background for fp32), for the register-tiled kernels; missing rows
    /// and columns are zero. The caller waits (<see cref="AsyncCopy.WaitAll"/>) and places the barrier.
    /// <paramref name="threads"/> must be a multiple of <paramref name="width"/> / 4 (whole rows per pass).
    /// </summary>
    public static void StageChunks<T, TStorage>(ArrayView<T> source, long first, long rowStride, int validRows, int headDim,
        ArrayView<float> tile, int stride, int rows, int width, int threads)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int chunksPerRow = width / 4;
        // The group covers whole rows per pass: a thread keeps its column and moves threads / chunksPerRow rows a
        // pass, so the division happens once and the constant trip count unrolls (ncu: the per-chunk division was
        // ~800 of 2,900 non-FFMA instructions per forward tile).
        int rowsPerPass = threads / chunksPerRow, row0 = Group.IdxX / chunksPerRow, column = 4 * (Group.IdxX % chunksPerRow);
        bool columnValid = column < headDim;
        long rowFirst = first + row0 * rowStride + column;
        for (int pass = 0; pass < (rows + rowsPerPass - 1) / rowsPerPass; pass++)
        {
            int r = row0 + pass * rowsPerPass;
            bool fetch = columnValid && r < validRows;
            if (rows % rowsPerPass == 0 || r < rows)
                TStorage.StageFour(source, fetch ? rowFirst + pass * rowsPerPass * rowStride : first, fetch, tile, r * stride + column);
        }
    }

    /// <summary>Loads one fp32 value per tile row (L or D rows): <paramref name="fill"/> past <paramref name="validRows"/>.</summary>
    public static void LoadVector(ArrayView<float> source, long first, int validRows, float multiplier, float fill,
        ArrayView<float> destination, int tileRows, AttentionTileConfig tile)
    {
        for (int r = Group.IdxX; r < tileRows; r += tile.Threads)
            destination[r] = r < validRows ? source[first + r] * multiplier : fill;
    }
}
