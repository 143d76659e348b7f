using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Which keys each query sees, and the block ranges that follow from it: the one place the causal diagonal, the sliding
/// window and the s_k end are written down. Query i sees key j when 0 ≤ j &lt; s_k and
/// i + <see cref="Offset"/> − <see cref="Left"/> ≤ j ≤ i + <see cref="Offset"/> + <see cref="Right"/>: causal is a window
/// whose right edge is 0 (flash-attn's window_size with causal); the offset is s_k − s_q (bottom-right, as flash-attn) or
/// 0 (top-left, as PyTorch). Built inside kernels from <see cref="AttentionParams"/> and a compile-time causal flag, so its
/// tests fold away where they are constant.
/// </summary>
internal readonly struct AttentionMask(int seqLenK, int offset, int left, int right)
{
    /// <summary>A window edge that is no edge (far beyond any sequence, small enough that i + offset ± it cannot overflow).</summary>
    public const int Unbounded = 1 << 29;

    /// <summary>Keys per sequence s_k.</summary>
    public readonly int SeqLenK = seqLenK;

    /// <summary>Diagonal offset: the window of query i is centred on key i + Offset.</summary>
    public readonly int Offset = offset;

    /// <summary>Keys left of the diagonal a query sees (<see cref="Unbounded"/>: all).</summary>
    public readonly int Left = left;

    /// <summary>Keys right of the diagonal a query sees (0 when causal, <see cref="Unbounded"/>: all).</summary>
    public readonly int Right = right;

    /// <summary>The mask of one call (dense lengths).</summary>
    public static AttentionMask Of(AttentionParams p, bool causal) => Of(p.SeqLenK, p.CausalOffset, p, causal);

    /// <summary>The mask of a sequence of <paramref name="seqLenK"/> keys whose diagonal is at <paramref name="offset"/>.</summary>
    public static AttentionMask Of(int seqLenK, int offset, AttentionParams p, bool causal)
    {
        int right = Edge(p.WindowRight);
        return new(seqLenK, offset, Edge(p.WindowLeft), causal ? XMath.Min(0, right) : right);
    }

    /// <summary>A window edge as the mask keeps it: −1 (none) and any wider edge become <see cref="Unbounded"/>, so the
    /// block arithmetic cannot overflow.</summary>
    private static int Edge(int window) => window < 0 ? Unbounded : XMath.Min(window, Unbounded);

    /// <summary>True when query <paramref name="row"/> sees key <paramref name="key"/>.</summary>
    /// <remarks>The three tests are combined with <c>&amp;</c>, not <c>&amp;&amp;</c>: predicate logic in the kernels, where
    /// short-circuits became two nested branches per score element.</remarks>
    public bool Visible(int row, int key) => (key < SeqLenK) & (key <= row + Offset + Right) & (key >= row + Offset - Left);

    // ---- forward: the key blocks of a block of query rows ----

    /// <summary>The first key any of the rows from <paramref name="q0"/> sees (the first row's left edge).</summary>
    public int KeyBegin(int q0) => XMath.Max(0, q0 + Offset - Left);

    /// <summary>One past the last key any of the rows [q0, q0 + rows) sees (≤ 0: none).</summary>
    public int KeyEnd(int q0, int rows) => XMath.Min(SeqLenK, q0 + rows - 1 + Offset + Right + 1);

    /// <summary>The first key block of <paramref name="blockCols"/> rows [q0, …) visit.</summary>
    public int FirstKeyBlock(int q0, int blockCols) => KeyBegin(q0) / blockCols;

    /// <summary>One past the last key block of <paramref name="blockCols"/> that rows [q0, q0 + rows) visit: blocks
    /// [<see cref="FirstKeyBlock"/>, count).</summary>
    public int KeyBlockCount(int q0, int rows, int blockCols)
    {
        int end = KeyEnd(q0, rows);
        return end > KeyBegin(q0) ? (end + blockCols - 1) / blockCols : 0;
    }

    /// <summary>True when the key block at <paramref name="k0"/> needs the element test for some of rows
    /// [q0, q0 + rows): it passes s_k, the first row's right edge, or the last row's left edge.</summary>
    public bool BlockNeedsMask(int q0, int rows, int k0, int blockCols)
        => k0 + blockCols > SeqLenK || k0 + blockCols - 1 > q0 + Offset + Right || k0 < q0 + rows - 1 + Offset - Left;

    // ---- backward: the query blocks of a block of keys ----

    /// <summary>The first query that sees any key of the block starting at <paramref name="k0"/> (its Q loop's start).</summary>
    public int FirstQuerySeeing(int k0) => XMath.Max(0, k0 - Offset - Right);

    /// <summary>One past the last query that sees any of keys [k0, k0 + cols), at most <paramref name="seqLenQ"/> (the last
    /// key that exists decides: past s_k a left window would otherwise admit rows that see none of the block).</summary>
    public int QueryEnd(int k0, int cols, int seqLenQ) => XMath.Min(seqLenQ, XMath.Min(k0 + cols, SeqLenK) - 1 - Offset + Left + 1);

    /// <summary>True when rows [q0, q0 + rows) against the key block at <paramref name="k0"/> need the element test.</summary>
    public bool QueryBlockNeedsMask(int q0, int rows, int k0, int blockCols) => BlockNeedsMask(q0, rows, k0, blockCols);

    // ---- the register-tiled fp32 kernels' view (no window: they take only calls without one) ----

    /// <summary>The first key some row of a block starting at <paramref name="q0"/> may not see (no window).</summary>
    public int FirstMaskedKey(int q0) => XMath.Max(0, XMath.Min(SeqLenK, q0 + Offset + Right + 1));

    /// <summary>The first key block needing the element test for rows from <paramref name="q0"/>; blocks before it are
    /// wholly visible (no left window).</summary>
    public int FirstMaskedBlock(int q0, int blockCols) => FirstMaskedKey(q0) / blockCols;

    /// <summary>The first query from which every key of [k0, k0 + cols) that exists is visible (no left window).</summary>
    public int FirstQuerySeeingAll(int k0, int cols) => XMath.Max(0, k0 + cols - 1 - Offset - Right);

    /// <summary>The first query block start from which rows need no element test against the key block at
    /// <paramref name="k0"/> (no left window), <see cref="int.MaxValue"/> when the block passes s_k.</summary>
    public int FirstUnmaskedQuery(int k0, int blockCols) => k0 + blockCols > SeqLenK ? int.MaxValue : FirstQuerySeeingAll(k0, blockCols);
}
