using FlashAttn.Kernels;

namespace FlashAttn.Cpu;

/// <summary>
/// The backward's static split of its work units — (batch, kv head, key block), in that order — into one contiguous
/// range per worker, balanced by cost (the query blocks a key block's rows are visible to and the block mask does not
/// empty, so causal, windowed and block-sparse work splits evenly). A fixed split is what makes dQ deterministic: each worker sums into its own dQ partial in a fixed order,
/// and the partials are added in worker order.
/// </summary>
internal sealed class BackwardPartition
{
    private readonly int[] _starts;
    private readonly int _keyBlocks;

    public BackwardPartition(CpuAttentionLayout layout, CpuTiles tiles, int workers)
    {
        _keyBlocks = layout.KeyBlocks;
        int units = layout.Problem.Batch * layout.Problem.HeadsKV * _keyBlocks;
        var prefix = new long[units + 1];
        for (int u = 0; u < units; u++)
            prefix[u + 1] = prefix[u] + 1 + QueryTiles(layout, tiles, u / _keyBlocks, u % _keyBlocks);
        Workers = Math.Max(1, Math.Min(workers, units));
        _starts = new int[Workers + 1];
        int next = 0;
        for (int t = 1; t < Workers; t++)
        {
            long target = prefix[units] * t / Workers;
            while (next < units && prefix[next] < target) next++;
            _starts[t] = next;
        }
        _starts[Workers] = units;
    }

    /// <summary>The (query head, query block) tiles unit (<paramref name="kvHead"/>, <paramref name="keyBlock"/>) computes:
    /// those its rows' windows reach, over the group's heads, less those the block mask empties (as <see cref="CpuBackward"/> skips them).</summary>
    private static long QueryTiles(CpuAttentionLayout layout, CpuTiles tiles, int kvHead, int keyBlock)
    {
        int first = layout.FirstQueryBlockOf(keyBlock), end = layout.QueryBlockEndOf(keyBlock);
        if (!tiles.Present) return (long)layout.Group * Math.Max(0, end - first);
        var p = layout.Problem;
        int b = kvHead / p.HeadsKV, firstHead = kvHead % p.HeadsKV * layout.Group;
        long count = 0;
        for (int h = firstHead; h < firstHead + layout.Group; h++)
            for (int queryBlock = first; queryBlock < end; queryBlock++)
                if (tiles.Of(b, h, queryBlock, keyBlock) != BlockMask.Empty) count++;
        return count;
    }

    /// <summary>Workers that get a range (at most one per unit).</summary>
    public int Workers { get; }

    /// <summary>Worker <paramref name="worker"/>'s units [start, end).</summary>
    public (int Start, int End) Units(int worker) => (_starts[worker], _starts[worker + 1]);

    /// <summary>The flat kv heads (b · h_kv + h) worker <paramref name="worker"/> touches, [first, last]; empty when first &gt; last.</summary>
    public (int First, int Last) KvHeads(int worker)
    {
        var (start, end) = Units(worker);
        return (start / _keyBlocks, (end - 1) / _keyBlocks);
    }

    /// <summary>Splits a unit into its flat kv head and key block.</summary>
    public (int KvHead, int KeyBlock) Split(int unit) => (unit / _keyBlocks, unit % _keyBlocks);
}
