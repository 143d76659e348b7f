using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>Stages blocks of (position, head-dim) rows of 16-bit elements into shared tiles, as they are stored.</summary>
internal static class HalfTileLoader
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
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        if (chunked)
        {
            const int chunk = TensorCoreTile.ChunkElements;
            int chunksPerRow = width / chunk;
            for (int c = Group.IdxX; c < rows * chunksPerRow; c += threads)
            {
                int r = c / chunksPerRow, column = chunk * (c % chunksPerRow);
                bool fetch = r < validRows && column < headDim;
                AsyncCopy.Copy16(ref tile[r * stride + column], ref source[fetch ? first + r * positionStride + column : first], fetch);
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
}
