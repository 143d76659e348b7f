using FlashAttn.Dispatch;
using FlashAttn.Kernels;

namespace FlashAttn.Cpu;

/// <summary>
/// The CPU path's blocking of one problem: query blocks × key blocks of <see cref="Block"/> rows (a 64 × 64 fp32 score
/// block is 16 KiB and, with a 64 × 128 Q and K block, stays in L1/L2), lengths padded to whole blocks, head_dim padded
/// to whole register tiles, and which keys each query sees: the causal diagonal and the sliding window.
/// </summary>
internal sealed class CpuAttentionLayout
{
    /// <summary>Rows of a query block and of a key block.</summary>
    public const int Block = 64;

    /// <summary>head_dim is padded to this: two 16-float vectors, the widest register tile row.</summary>
    public const int HeadDimAlign = MicroKernel.Vectors * 16;

    public CpuAttentionLayout(AttentionProblem problem)
    {
        Problem = problem;
        HeadDim = problem.HeadDim;
        HeadDimPadded = RoundUp(problem.HeadDim, HeadDimAlign);
        HeadDimRows = RoundUp(problem.HeadDim, MicroKernel.MaxRows);
        SeqLenQ = problem.SeqLenQ;
        SeqLenK = problem.SeqLenK;
        QueryBlocks = (SeqLenQ + Block - 1) / Block;
        KeyBlocks = (SeqLenK + Block - 1) / Block;
        SeqLenQPadded = QueryBlocks * Block;
        SeqLenKPadded = KeyBlocks * Block;
        Group = problem.HeadsQ / problem.HeadsKV;
        Queries = TokenLayout.Of(problem.Layout, problem.SeqLenQ, problem.HeadsQ, problem.HeadDim);
        Keys = TokenLayout.Of(problem.Layout, problem.SeqLenK, problem.HeadsKV, problem.HeadDim);
        DiagonalOffset = problem.CausalBottomRight ? SeqLenK - SeqLenQ : 0;
        LeftEdge = problem.WindowLeft;
        RightEdge = problem.Causal ? 0 : problem.WindowRight; // causal caps any right window at the diagonal
    }

    public AttentionProblem Problem { get; }
    public int HeadDim { get; }

    /// <summary>Row length of every packed fp32 matrix with head_dim columns.</summary>
    public int HeadDimPadded { get; }

    /// <summary>head_dim rounded up to whole register-tile rows (for products with head_dim rows).</summary>
    public int HeadDimRows { get; }
    public int SeqLenQ { get; }
    public int SeqLenK { get; }
    public int SeqLenQPadded { get; }
    public int SeqLenKPadded { get; }
    public int QueryBlocks { get; }
    public int KeyBlocks { get; }

    /// <summary>Query heads per kv head (GQA/MQA group size).</summary>
    public int Group { get; }

    /// <summary>The diagonal of query i is key i + offset: s_k − s_q bottom-right, 0 top-left.</summary>
    public int DiagonalOffset { get; }

    /// <summary>Keys left of the diagonal a query sees; −1: all.</summary>
    public int LeftEdge { get; }

    /// <summary>Keys right of the diagonal a query sees (0 when causal); −1: all.</summary>
    public int RightEdge { get; }

    // Query i sees key j when 0 ≤ j < s_k and i + offset − LeftEdge ≤ j ≤ i + offset + RightEdge; the edges are any
    // non-negative int, so the sums are taken in long.

    /// <summary>The first key query row <paramref name="i"/> sees.</summary>
    public int KeyStart(int i) => LeftEdge < 0 ? 0 : (int)Math.Clamp((long)i + DiagonalOffset - LeftEdge, 0, SeqLenK);

    /// <summary>One past the last key query row <paramref name="i"/> sees; ≤ <see cref="KeyStart"/> for a fully masked row.</summary>
    public int KeyLimit(int i) => RightEdge < 0 ? SeqLenK : (int)Math.Clamp((long)i + DiagonalOffset + RightEdge + 1, 0, SeqLenK);

    /// <summary>The first query row that sees key <paramref name="j"/>.</summary>
    public int FirstQueryOf(int j) => RightEdge < 0 ? 0 : (int)Math.Clamp((long)j - DiagonalOffset - RightEdge, 0, SeqLenQ);

    /// <summary>One past the last query row that sees key <paramref name="j"/>.</summary>
    public int QueryLimit(int j) => LeftEdge < 0 ? SeqLenQ : (int)Math.Clamp((long)j - DiagonalOffset + LeftEdge + 1, 0, SeqLenQ);

    /// <summary>Query blocks whose rows see some key of key block <paramref name="keyBlock"/> start here.</summary>
    public int FirstQueryBlockOf(int keyBlock) => FirstQueryOf(keyBlock * Block) / Block;

    /// <summary>… and end here (blocks [<see cref="FirstQueryBlockOf"/>, end); the end may be the smaller: none).</summary>
    public int QueryBlockEndOf(int keyBlock) => (QueryLimit(Math.Min(SeqLenK, (keyBlock + 1) * Block) - 1) + Block - 1) / Block;

    /// <summary>Key blocks that rows [i0, i0 + rows) see start here …</summary>
    public int FirstKeyBlockOf(int i0) => KeyStart(i0) / Block;

    /// <summary>… and end here (0 when the rows see no key).</summary>
    public int KeyBlockEndOf(int i0, int rows)
    {
        int end = KeyLimit(i0 + rows - 1);
        return end > KeyStart(i0) ? (end + Block - 1) / Block : 0;
    }

    /// <summary>Where the rows of q, the output, dO and dq are, in the call's layout (the GPU kernels' arithmetic).</summary>
    public TokenLayout Queries { get; }

    /// <summary>Where the rows of k, v, dk and dv are.</summary>
    public TokenLayout Keys { get; }

    public static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;
}
