using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>Stages blocks of (position, head-dim) rows into the tensor cores' shared tiles, elements as they are stored.</summary>
internal static class TensorCoreTileLoader
{
    /// <summary>
    /// Starts copying <paramref name="rows"/> rows (of which <paramref name="validRows"/> exist) of d elements, the first at
    /// <paramref name="first"/>, <paramref name="positionStride"/> apart, into a tile of row stride <paramref name="stride"/>
    /// and <paramref name="width"/> columns; missing rows and the columns past d are zero. <paramref name="chunked"/>
    /// (d a multiple of 8, 16-byte aligned rows): 16-byte cp.async chunks in the background, the caller waits and places
    /// the barrier; otherwise element by element at once. Every thread of the group calls.
    /// </summary>
    public static void Load<T, TStorage>(ArrayView<T> source, long first, long positionStride, int validRows, int headDim,
        ArrayView<T> tile, int stride, int rows, int width, int threads, bool chunked)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T>
    {
        if (chunked)
        {
            int chunk = TensorCoreTile.ChunkBytes / TStorage.ElementBytes;
            int chunksPerRow = width / chunk;
            // Thread t copies chunks t, t + threads, …: it starts at (row, part) and each pass moves rowStep rows and
            // partStep chunks to the right, wrapping into the next row. The steps and the pass count are compile-time
            // constants, so the passes unroll with one division per call (ncu, H100, d = 96: the rolled loop's signed
            // division by 12 chunks per row and 64-bit index arithmetic made IMAD a fifth of the forward's instructions).
            int rowStep = threads / chunksPerRow, partStep = threads % chunksPerRow;
            int row = Group.IdxX / chunksPerRow, part = Group.IdxX % chunksPerRow;
            for (int pass = 0; pass < (rows * chunksPerRow + threads - 1) / threads; pass++)
            {
                if (rows * chunksPerRow % threads == 0 || row < rows)
                {
                    int column = chunk * part;
                    bool fetch = column < headDim && row < validRows;
                    AsyncCopy.Copy16(ref tile[row * stride + column], ref source[fetch ? first + row * positionStride + column : first], fetch);
                }
                row += rowStep;
                part += partStep;
                if (partStep != 0 && part >= chunksPerRow)
                {
                    part -= chunksPerRow;
                    row++;
                }
            }
            return;
        }
        T zero = TStorage.Store(0f);
        for (int e = Group.IdxX; e < rows * width; e += threads)
        {
            int r = e / width, column = e % width;
            tile[r * stride + column] = r < validRows && column < headDim ? source[first + r * positionStride + column] : zero;
        }
    }

    /// <summary>
    /// As <see cref="Load{T, TStorage}"/> for rows that are not evenly spaced: tile row r starts at
    /// <paramref name="rowStarts"/>.RowStart(r) (GQA-packed queries, keys of small pages).
    /// </summary>
    public static void LoadRows<T, TStorage, TRows>(ArrayView<T> source, TRows rowStarts, int validRows, int headDim,
        ArrayView<T> tile, int stride, int rows, int width, int threads, bool chunked)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T> where TRows : struct, ITileRows
    {
        if (chunked)
        {
            int chunk = TensorCoreTile.ChunkBytes / TStorage.ElementBytes;
            int chunksPerRow = width / chunk;
            for (int c = Group.IdxX; c < rows * chunksPerRow; c += threads)
            {
                int r = c / chunksPerRow, column = chunk * (c % chunksPerRow);
                bool fetch = r < validRows && column < headDim;
                long start = fetch ? rowStarts.RowStart(r) + column : 0;
                AsyncCopy.Copy16(ref tile[r * stride + column], ref source[start], fetch);
            }
            return;
        }
        T zero = TStorage.Store(0f);
        for (int e = Group.IdxX; e < rows * width; e += threads)
        {
            int r = e / width, column = e % width;
            tile[r * stride + column] = r < validRows && column < headDim ? source[rowStarts.RowStart(r) + column] : zero;
        }
    }
}
