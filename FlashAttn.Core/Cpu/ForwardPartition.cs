namespace FlashAttn.Cpu;

/// <summary>
/// The forward's work units: (batch, query head, run of up to <see cref="MaxBlocksPerUnit"/> consecutive 64-row query
/// blocks). A unit walks the key blocks once for all its query blocks, so each K_j, V_j block is read from L3 once per
/// run rather than once per query block and is still in L1/L2 for the run's next block (PyTorch's CPU flash kernel splits
/// queries by 256 rows for the same reason). Runs are as long as the thread count allows: at least
/// <see cref="UnitsPerWorker"/> units per worker, so that the dynamic schedule can still even out unequal (causal) units;
/// one worker has nothing to balance and takes the longest runs.
/// </summary>
internal readonly struct ForwardPartition
{
    /// <summary>Query blocks per unit at most: 256 rows; their Q_i and O_i (4 × 64 × d_pad twice) stay in L2.</summary>
    public const int MaxBlocksPerUnit = 4;

    /// <summary>Units per worker at least, where runs of one block give that many.</summary>
    private const int UnitsPerWorker = 4;

    public ForwardPartition(CpuAttentionLayout layout, int workers)
    {
        Heads = layout.Problem.Batch * layout.Problem.HeadsQ;
        QueryBlocks = layout.QueryBlocks;
        int blocks = MaxBlocksPerUnit;
        while (blocks > 1 && workers > 1 && (long)Heads * Runs(QueryBlocks, blocks) < (long)UnitsPerWorker * workers) blocks /= 2;
        BlocksPerUnit = blocks;
        RunsPerHead = Runs(QueryBlocks, blocks);
    }

    /// <summary>b · h_q.</summary>
    public int Heads { get; }

    public int QueryBlocks { get; }

    /// <summary>Consecutive query blocks per unit (the last run of a head may have fewer).</summary>
    public int BlocksPerUnit { get; }

    public int RunsPerHead { get; }

    public int Units => Heads * RunsPerHead;

    /// <summary>
    /// Flat head (b · h_q + h) and query blocks [first, first + count) of <paramref name="unit"/>. The last runs of every
    /// head come first: under a causal mask they see the most keys, so the work left for the end is the short runs.
    /// </summary>
    public (int Head, int FirstBlock, int Count) Of(int unit)
    {
        int run = RunsPerHead - 1 - unit / Heads, first = run * BlocksPerUnit;
        return (unit % Heads, first, Math.Min(BlocksPerUnit, QueryBlocks - first));
    }

    private static int Runs(int queryBlocks, int blocksPerUnit) => (queryBlocks + blocksPerUnit - 1) / blocksPerUnit;
}
