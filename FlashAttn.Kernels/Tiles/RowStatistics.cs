using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// The per-row statistics the backward reads for each Q block: L·log2 e (the forward's log-sum-exp in the log2 domain)
/// and D = rowsum(dO ∘ O). Loaded into registers first and stored into shared rows later, so their latency hides
/// behind the work in between.
/// </summary>
internal static class RowStatistics
{
    /// <summary>L and D of row q0 + t for thread t &lt; <paramref name="rows"/>: +∞ and 0 past the sequence's
    /// <paramref name="queryLength"/> rows, so P = 0 there. L as loaded: <see cref="Store"/> scales it, so that nothing
    /// waits for the load before then (ncu, H100: a multiply here stalled each Q block on the load's latency).</summary>
    public static void Load(ArrayView<float> lse, ArrayView<float> delta, int queryLength, long rowBase, int q0, int rows,
        out float l, out float d)
    {
        int r = Group.IdxX;
        bool valid = r < rows && q0 + r < queryLength;
        l = valid ? lse[rowBase + q0 + r] : float.PositiveInfinity;
        d = valid ? delta[rowBase + q0 + r] : 0f;
    }

    /// <summary>Threads t &lt; <paramref name="rows"/> store their row's L·log2 e and D (from <see cref="Load"/>) into the shared rows.</summary>
    public static void Store(float l, float d, int rows, ArrayView<float> lseTile, ArrayView<float> deltaTile)
    {
        if (Group.IdxX >= rows) return;
        lseTile[Group.IdxX] = l * SoftmaxConstants.Log2E;
        deltaTile[Group.IdxX] = d;
    }
}
