using FlashAttn.Dispatch;

namespace FlashAttn.Cpu;

/// <summary>
/// The CPU path's blocking of one problem: query blocks × key blocks of <see cref="Block"/> rows (a 64 × 64 fp32 score
/// block is 16 KiB and, with a 64 × 128 Q and K block, stays in L1/L2), lengths padded to whole blocks, head_dim padded
/// to whole register tiles, and the causal diagonal.
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
        DiagonalOffset = problem.CausalBottomRight ? SeqLenK - SeqLenQ : 0;
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

    /// <summary>Query i sees key j when j ≤ i + offset: s_k − s_q bottom-right, 0 top-left.</summary>
    public int DiagonalOffset { get; }

    /// <summary>How many keys (from 0) query row <paramref name="i"/> sees; 0 for a fully masked row.</summary>
    public int KeyLimit(int i) => Problem.Causal ? Math.Clamp(i + DiagonalOffset + 1, 0, SeqLenK) : SeqLenK;

    /// <summary>The first query row that sees key <paramref name="j"/> (causal), else 0.</summary>
    public int FirstQueryOf(int j) => Problem.Causal ? Math.Max(0, j - DiagonalOffset) : 0;

    /// <summary>Query blocks whose rows see some key of key block <paramref name="keyBlock"/> start here.</summary>
    public int FirstQueryBlockOf(int keyBlock) => Math.Min(QueryBlocks, FirstQueryOf(keyBlock * Block) / Block);

    /// <summary>Offset of element [b, i, h, 0] in a (b, s, heads, d) tensor.</summary>
    public long RowOffset(int b, int i, int heads, int h, int seqLen) => (((long)b * seqLen + i) * heads + h) * HeadDim;

    public static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;
}
