using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Which keys each query sees, and the block ranges that follow from it: the one place the causal diagonal and the s_k
/// end are written down. Query i sees key j when j &lt; s_k and, if causal, j ≤ i + <see cref="CausalOffset"/>
/// (s_k − s_q bottom-right as flash-attn, 0 top-left as PyTorch). Built inside kernels from <see cref="AttentionParams"/>
/// and a compile-time causal flag, so its tests fold away where they are constant.
/// </summary>
internal readonly struct AttentionMask(int seqLenK, int causalOffset, bool causal)
{
    /// <summary>Keys per sequence s_k.</summary>
    public readonly int SeqLenK = seqLenK;

    /// <summary>Diagonal offset: query i sees keys up to i + CausalOffset.</summary>
    public readonly int CausalOffset = causalOffset;

    /// <summary>True when keys right of the diagonal are hidden.</summary>
    public readonly bool Causal = causal;

    /// <summary>The mask of one call.</summary>
    public static AttentionMask Of(AttentionParams p, bool causal) => new(p.SeqLenK, p.CausalOffset, causal);

    /// <summary>True when query <paramref name="row"/> sees key <paramref name="key"/>.</summary>
    public bool Visible(int row, int key) => key < SeqLenK && (!Causal || key <= row + CausalOffset);

    /// <summary>One past the last key any of the rows [q0, q0 + rows) sees (≤ 0: none).</summary>
    public int KeyEnd(int q0, int rows) => Causal ? XMath.Min(SeqLenK, q0 + rows + CausalOffset) : SeqLenK;

    /// <summary>The first key some row of a block starting at <paramref name="q0"/> may not see: from there on a key block
    /// needs the element test (the causal diagonal, or s_k for the ragged last block).</summary>
    public int FirstMaskedKey(int q0) => Causal ? XMath.Max(0, XMath.Min(SeqLenK, q0 + CausalOffset + 1)) : SeqLenK;

    /// <summary>Key blocks of <paramref name="blockCols"/> that rows [q0, q0 + rows) visit: [0, count).</summary>
    public int KeyBlockCount(int q0, int rows, int blockCols)
    {
        int end = KeyEnd(q0, rows);
        return end > 0 ? (end + blockCols - 1) / blockCols : 0;
    }

    /// <summary>The first key block of <paramref name="blockCols"/> that needs the element test for rows from <paramref name="q0"/>:
    /// blocks before it are wholly visible (forward loops compare the block index once).</summary>
    public int FirstMaskedBlock(int q0, int blockCols) => FirstMaskedKey(q0) / blockCols;

    /// <summary>True when the key block starting at <paramref name="k0"/> needs the element test for rows from <paramref name="q0"/>.</summary>
    public bool BlockNeedsMask(int q0, int k0, int blockCols)
        => k0 + blockCols > FirstMaskedKey(q0) || k0 + blockCols > SeqLenK;

    /// <summary>The first query that sees any key of the block starting at <paramref name="k0"/> (backward: where its Q loop starts).</summary>
    public int FirstQuerySeeing(int k0) => Causal ? XMath.Max(0, k0 - CausalOffset) : 0;

    /// <summary>The first query from which every key of [k0, k0 + cols) that exists is visible (backward: unmasked from there).</summary>
    public int FirstQuerySeeingAll(int k0, int cols) => Causal ? XMath.Max(0, k0 + cols - 1 - CausalOffset) : 0;

    /// <summary>The first query block start from which rows need no element test against the key block at
    /// <paramref name="k0"/>, <see cref="int.MaxValue"/> when the block passes s_k: backward loops compare q0 against it.</summary>
    public int FirstUnmaskedQuery(int k0, int blockCols) => k0 + blockCols > SeqLenK ? int.MaxValue : FirstQuerySeeingAll(k0, blockCols);

    /// <summary>True when rows [q0, …) against the key block at <paramref name="k0"/> need the element test (backward).</summary>
    public bool QueryBlockNeedsMask(int q0, int k0, int blockCols)
        => k0 + blockCols > SeqLenK || (Causal && q0 < FirstQuerySeeingAll(k0, blockCols));
}
