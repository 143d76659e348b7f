namespace FlashAttn.Bench.Memory;

/// <summary>
/// The largest sequence length, a multiple of a step, for which a test passes (every buffer allocates), by binary
/// search: the test is monotone (more tokens never need less memory), so about log₂(max / step) probes.
/// </summary>
internal static class LargestSeqLenSearch
{
    /// <summary>The largest multiple of <paramref name="step"/> up to <paramref name="maxSeqLen"/> that <paramref name="fits"/>; 0 when none does.</summary>
    /// <param name="step">Granularity, e.g. 1024.</param>
    /// <param name="maxSeqLen">Upper bound of the search (the API's own limit).</param>
    /// <param name="fits">Whether a sequence length fits; called about log₂(max / step) times.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is not positive.</exception>
    public static int Find(int step, int maxSeqLen, Func<int, bool> fits)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(step);
        int low = 0, high = maxSeqLen / step; // invariant: low·step fits (or low = 0), (high + 1)·step does not or is past the bound
        while (low < high)
        {
            int middle = low + (high - low + 1) / 2;
            if (fits(middle * step)) low = middle;
            else high = middle - 1;
        }
        return low * step;
    }
}
