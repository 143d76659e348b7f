using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// The per-row statistics the backward reads for each Q block: L·log2 e (the forward's log-sum-exp in the log2 domain)
/// and D = rowsum(dO ∘ O). Loaded into registers first and stored into shared rows later, so their latency hides
/// behind the work in between.
/// </summary>
internal static class RowStatistics
{
    /// <summary>L·log2 e and D of row q0 + t for thread t &lt; <paramref name="rows"/>: +∞ and 0 past the sequence's
    /// <paramref name="queryLength"/> rows, so P = 0 there.</summary>
    public static void Load(ArrayView<float> lse, ArrayView<float> delta, int queryLength, long rowBase, int q0, int rows,
        out float lseLog2, out float d)
    {
        int r = Group.IdxX;
        bool valid = r < rows && q0 + r < queryLength;
        lseLog2 = valid ? lse[rowBase + q0 + r] * SoftmaxConstants.Log2E : float.PositiveInfinity;
        d = valid ? delta[rowBase + q0 + r] : 0f;
    }

    /// <summary>Threads t &lt; <paramref name="rows"/> store their row's L·log2 e and D into the shared rows.</summary>
    public static void Store(float lseLog2, float d, int rows, ArrayView<float> lseTile, ArrayView<float> deltaTile)
    {
        if (Group.IdxX >= rows) return;
        lseTile[Group.IdxX] = lseLog2;
        deltaTile[Group.IdxX] = d;
    }
}
