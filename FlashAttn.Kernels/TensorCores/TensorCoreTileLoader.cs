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
    /// the barrier; otherwise element by element at once. <paramref name="plainWhenWhole"/>
    /// (<see cref="TensorCoreTile.ForwardPlainCopiesOfWholeTiles"/>): a tile whose every chunk exists takes plain copies. Every
    /// thread of the group calls.
    /// </summary>
    public static void Load<T, TStorage>(ArrayView<T> source, long first, long positionStride, int validRows, int headDim,
        ArrayView<T> tile, int stride, int rows, int width, int threads, bool chunked, bool plainWhenWhole, bool walk = false)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T>
    {
        if (chunked)
        {
            // the thread's first row and chunk, divided here, before the branch, so that one division serves every call
            int chunksPerRow = width / (TensorCoreTile.ChunkBytes / TStorage.ElementBytes);
            int row0 = Group.IdxX / chunksPerRow, part0 = Group.IdxX % chunksPerRow;
            // the usual case, a whole tile (every row exists, d = d'): copies without the zero-fill operand, the row tests
            // and the selects that keep a missing row's source address valid (a constant at each call once inlined)
            if (plainWhenWhole && validRows >= rows && headDim >= width)
                CopyChunks<T, TStorage>(source, first, positionStride, validRows, headDim, tile, stride, rows, width, threads, row0, part0, whole: true, walk);
            else
                CopyChunks<T, TStorage>(source, first, positionStride, validRows, headDim, tile, stride, rows, width, threads, row0, part0, whole: false, walk: false);
            return;
        }
        T zero = TStorage.Store(0f);
        for (int e = Group.IdxX; e < rows * width; e += threads)
        {
            int r = e / width, column = e % width;
            tile[r * stride + column] = r < validRows && column < headDim ? source[first + r * positionStride + column] : zero;
        }
    }

    /// <summary><see cref="Load{T, TStorage}"/>'s 16-byte cp.async chunks from the thread's (<paramref name="row0"/>, chunk
    /// <paramref name="part0"/>); <paramref name="whole"/>: every chunk exists.</summary>
    private static void CopyChunks<T, TStorage>(ArrayView<T> source, long first, long positionStride, int validRows, int headDim,
        ArrayView<T> tile, int stride, int rows, int width, int threads, int row0, int part0, bool whole, bool walk)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T>
    {
        int chunk = TensorCoreTile.ChunkBytes / TStorage.ElementBytes;
        int chunksPerRow = width / chunk;
        if (threads % chunksPerRow == 0)
        {
            // a thread keeps its column and steps whole rows: its address moves by a constant stride a pass, so the
            // division happens once and the passes unroll (ncu, H200: the per-chunk division and 64-bit index
            // arithmetic of a rolled loop made IMAD the most executed instruction of the forward)
            int rowsPerPass = threads / chunksPerRow, column = chunk * part0;
            bool columnValid = whole || column < headDim;
            long rowFirst = first + row0 * positionStride + column, passStride = rowsPerPass * positionStride;
            if (whole && walk)
            {
                // every chunk exists: the thread's first source address once, then a constant multiple of the pass stride
                // a pass (64-bit element indices turned into addresses per chunk cost ~6 integer instructions a copy)
                var from = source.SubView(rowFirst, source.Length - rowFirst);
                for (int pass = 0; pass < (rows + rowsPerPass - 1) / rowsPerPass; pass++)
                {
                    int r = row0 + pass * rowsPerPass;
                    if (rows % rowsPerPass != 0 && r >= rows) continue;
                    if (pass > 0) from = from.SubView(passStride, from.Length - passStride);
                    AsyncCopy.Copy16(ref tile[r * stride + column], ref from[0], true);
                }
                return;
            }
            for (int pass = 0; pass < (rows + rowsPerPass - 1) / rowsPerPass; pass++)
            {
                int r = row0 + pass * rowsPerPass;
                if (rows % rowsPerPass != 0 && r >= rows) continue;
                bool fetch = whole || (columnValid && r < validRows);
                AsyncCopy.Copy16(ref tile[r * stride + column], ref source[fetch ? rowFirst + pass * passStride : first], fetch);
            }
            return;
        }
        // otherwise (d' = 96: 12 chunks a row) thread t copies chunks t, t + threads, …: it starts at (row, part) and each
        // pass moves rowStep rows and partStep chunks to the right, wrapping into the next row. The steps and the pass
        // count are compile-time constants, so these passes unroll as well (ncu, H100, d = 96: a rolled loop's signed
        // division by 12 per chunk made IMAD a fifth of the forward's instructions; unrolled, the forward +20-25%).
        // The evenly dividing case keeps the form above: this one measured 2.5-5.6% slower forwards at d' = 128.
        int rowStep = threads / chunksPerRow, partStep = threads % chunksPerRow;
        int row = row0, part = part0;
        for (int pass = 0; pass < (rows * chunksPerRow + threads - 1) / threads; pass++)
        {
            if (rows * chunksPerRow % threads == 0 || row < rows)
            {
                int column = chunk * part;
                bool fetch = whole || (column < headDim && row < validRows);
                AsyncCopy.Copy16(ref tile[row * stride + column], ref source[fetch ? first + row * positionStride + column : first], fetch);
            }
            row += rowStep;
            part += partStep;
            if (part >= chunksPerRow)
            {
                part -= chunksPerRow;
                row++;
            }
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
