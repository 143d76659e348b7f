using FlashAttn.Dispatch;
using FlashAttn.Kernels;

namespace FlashAttn.Distributed;

/// <summary>
/// The shapes and row slices of one rank's shards in a ring call: q-side tensors (q, the output, dOut, dq), k-side
/// tensors (k, v, dk, dv) and the log-sum-exp, whole or restricted to a block's positions.
/// </summary>
internal readonly struct ShardShape(AttentionProblem problem)
{
    /// <summary>Positions of the rank's shard.</summary>
    public int Length => problem.SeqLenQ;

    /// <summary>A q-side tensor of <paramref name="positions"/> positions.</summary>
    public int[] Queries(int positions) => Tensor(problem.HeadsQ, positions);

    /// <summary>A k-side tensor of <paramref name="positions"/> positions.</summary>
    public int[] KeysValues(int positions) => Tensor(problem.HeadsKV, positions);

    /// <summary>A log-sum-exp of <paramref name="positions"/> query positions: (b, h_q, positions).</summary>
    public int[] Lse(int positions) => [problem.Batch, problem.HeadsQ, positions];

    /// <summary>Query positions [start, start + count) of the shard.</summary>
    public RowSlice QuerySlice(int start, int count) =>
        new(problem.Batch, Length, problem.HeadsQ, problem.HeadDim, problem.Layout, start, count);

    /// <summary>Key positions [start, start + count) of the shard.</summary>
    public RowSlice KeySlice(int start, int count) => QuerySlice(start, count).WithHeads(problem.HeadsKV);

    private int[] Tensor(int heads, int positions) => problem.Layout.Shape(problem.Batch, positions, heads, problem.HeadDim);
}
