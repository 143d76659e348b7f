using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace FlashAttn.Cpu;

/// <summary>
/// dQ = scale · Σ_workers dQᵀ partial, summed in worker order (so the result is the same run after run) and transposed
/// back to (b, s_q, h_q, d) in the storage dtype; parallel over query heads.
/// </summary>
internal static unsafe class DqReduction
{
    /// <summary>Query rows summed and transposed at a time (divides the 64-row blocks): a partial's d_pad × 16 tile is one
    /// 64-byte run of each of its rows.</summary>
    private const int Tile = 16;

    public static void Run<T>(CpuAttentionLayout layout, BackwardPartition partition, CpuWorkspace?[] partials, T* dq,
        ParallelOptions parallel) where T : unmanaged
        => CpuTeam.For(layout.Problem.Batch * layout.Problem.HeadsQ, parallel, head => Head(layout, partition, partials, dq, head));

    /// <summary>dQ of flat query head <paramref name="head"/> (b · h_q + h): per 16 query rows the partials' dQᵀ columns are
    /// summed as they lie (whole vectors, worker after worker), then transposed to rows once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // O(s·d) per head: no tier-0 code
    [SkipLocalsInit] // both blocks are written before they are read
    private static void Head<T>(CpuAttentionLayout layout, BackwardPartition partition, CpuWorkspace?[] partials, T* dq, int head)
        where T : unmanaged
    {
        var p = layout.Problem;
        const int block = CpuAttentionLayout.Block;
        int d = layout.HeadDim, dPad = layout.HeadDimPadded;
        int b = head / p.HeadsQ, h = head % p.HeadsQ, kvHead = head / layout.Group, g = head % layout.Group;
        float* sumT = stackalloc float[d * Tile], tile = stackalloc float[Tile * dPad];
        for (int i0 = 0; i0 < p.SeqLenQ; i0 += Tile)
        {
            int rows = Math.Min(Tile, p.SeqLenQ - i0);
            new Span<float>(sumT, d * Tile).Clear();
            for (int worker = 0; worker < partition.Workers; worker++)
            {
                var (first, last) = partition.KvHeads(worker);
                if (kvHead < first || kvHead > last || partials[worker] is not { } partial) continue;
                // the query block's d_pad × 64 matrix, at this tile's first column
                float* dqT = partial.Pointer + ((long)(kvHead - first) * layout.Group + g) * CpuBackward.DqPartialSize(layout)
                    + (long)(i0 / block) * block * dPad + i0 % block;
                for (int x = 0; x < d; x++)
                {
                    var sum = new Span<float>(sumT + x * Tile, Tile);
                    TensorPrimitives.Add(sum, new ReadOnlySpan<float>(dqT + x * block, Tile), sum);
                }
            }
            Transpose.Copy(sumT, Tile, d, rows, tile, dPad);
            for (int r = 0; r < rows; r++)
                StorageConvert.Narrow(tile + r * dPad, dq + layout.Queries.RowStart(b, i0 + r, h), d, p.Scale);
        }
    }
}
