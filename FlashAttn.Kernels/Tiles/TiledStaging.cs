using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>Stages (seq, head_dim) rows into fp32 shared tiles in 16-byte chunks for the register-tiled kernels.</summary>
internal static class TiledStaging
{
    /// <summary>
    /// Starts staging <paramref name="rows"/> rows (of which <paramref name="validRows"/> exist) of d elements into a
    /// shared tile of <paramref name="width"/> columns and row stride <paramref name="stride"/>, in 4-element chunks
    /// (<see cref="IStorage{T}.StageFour"/>); missing rows and columns are zero. The caller waits
    /// (<see cref="AsyncCopy.WaitAll"/>) and places the barrier.
    /// </summary>
    public static void Stage<T, TStorage>(ArrayView<T> source, long first, long rowStride, int validRows, int headDim,
        ArrayView<float> tile, int stride, int rows, int width, int threads)
        where T : unmanaged where TStorage : struct, IStorage<T>
    {
        int chunksPerRow = width / 4;
        for (int chunk = Group.IdxX; chunk < rows * chunksPerRow; chunk += threads)
        {
            int r = chunk / chunksPerRow, c = 4 * (chunk % chunksPerRow);
            bool fetch = r < validRows && c < headDim;
            TStorage.StageFour(source, fetch ? first + r * rowStride + c : first, fetch, tile, r * stride + c);
        }
    }
}
