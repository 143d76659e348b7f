using FlashAttn.Compute.Runtime;
using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

namespace FlashAttn.Cpu;

/// <summary>
/// What the backward needs per (batch, query head), widened to fp32 and packed like <see cref="PackedKeysValues"/>:
/// Q · scale · log₂e and dO row-major (s_q_pad × d_pad) and transposed per query block (d_pad × 64 each), L_i · log₂e (+∞ on
/// padding rows, so their P is 0) and D_i = rowsum(dO_i ∘ O_i).
/// </summary>
internal sealed unsafe class PackedQueries : IDisposable
{
    private readonly CpuWorkspace _queries, _queriesT, _dOutput, _dOutputT, _lse, _delta;
    private readonly long _headSize;
    private readonly int _rows, _headDimPadded;

    private PackedQueries(CpuAttentionLayout layout, Accelerator accelerator)
    {
        _rows = layout.SeqLenQPadded;
        _headDimPadded = layout.HeadDimPadded;
        _headSize = (long)_rows * layout.HeadDimPadded;
        int heads = layout.Problem.Batch * layout.Problem.HeadsQ;
        _queries = CpuWorkspace.Rent(accelerator, _headSize * heads);
        _queriesT = CpuWorkspace.Rent(accelerator, _headSize * heads);
        _dOutput = CpuWorkspace.Rent(accelerator, _headSize * heads);
        _dOutputT = CpuWorkspace.Rent(accelerator, _headSize * heads);
        _lse = CpuWorkspace.Rent(accelerator, (long)_rows * heads);
        _delta = CpuWorkspace.Rent(accelerator, (long)_rows * heads);
    }

    /// <summary>Packs q, dO (b, s_q, h_q, d) and the forward's output and lse (b, h_q, s_q), one unit per (query head,
    /// query block) so that every worker has a share even when b · h_q is below the thread count.</summary>
    public static PackedQueries Create<T>(CpuAttentionLayout layout, Accelerator accelerator, T* q, T* output, T* dOutput, float* lse,
        ParallelOptions parallel) where T : unmanaged
    {
        var packs = new PackedQueries(layout, accelerator);
        int blocks = layout.QueryBlocks;
        CpuTeam.For(layout.Problem.Batch * layout.Problem.HeadsQ * blocks, parallel,
            unit => packs.Pack(layout, q, output, dOutput, lse, unit / blocks, unit % blocks));
        return packs;
    }

    /// <summary>Widens and packs query block <paramref name="queryBlock"/> of flat query head <paramref name="head"/> (b · h_q + h).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // O(s·d) per head: no tier-0 code
    [SkipLocalsInit] // the row of O is written before it is read
    private void Pack<T>(CpuAttentionLayout layout, T* q, T* output, T* dOutput, float* lse, int head, int queryBlock) where T : unmanaged
    {
        const int block = CpuAttentionLayout.Block;
        var p = layout.Problem;
        int b = head / p.HeadsQ, h = head % p.HeadsQ, d = layout.HeadDim, dPad = layout.HeadDimPadded;
        int i0 = queryBlock * block, rows = Math.Min(block, p.SeqLenQ - i0);
        long blockOffset = (long)i0 * dPad, blockSize = (long)block * dPad;
        float* queries = Queries(head) + blockOffset, dO = DOutput(head) + blockOffset, l2 = Lse(head) + i0, delta = Delta(head) + i0;
        // padding (rows past s_q, columns past d) must read as 0; the workspaces are reused
        if (rows < block || d < dPad)
            foreach (var pack in (ReadOnlySpan<CpuWorkspace>)[_queries, _queriesT, _dOutput, _dOutputT]) pack.Clear(head * _headSize + blockOffset, blockSize);
        float* o = stackalloc float[d];
        for (int r = 0; r < rows; r++)
        {
            long offset = layout.Queries.RowStart(b, i0 + r, h);
            StorageConvert.Widen(q + offset, queries + (long)r * dPad, d, p.Scale * SoftmaxLog2.Log2E);
            StorageConvert.Widen(dOutput + offset, dO + (long)r * dPad, d, 1f);
            StorageConvert.Widen(output + offset, o, d, 1f);
            // D_i = Σ_x dO_ix O_ix  (= Σ_j P_ij dP_ij)
            delta[r] = TensorPrimitives.Dot(new ReadOnlySpan<float>(dO + (long)r * dPad, d), new ReadOnlySpan<float>(o, d));
            l2[r] = lse[(long)head * p.SeqLenQ + i0 + r] * SoftmaxLog2.Log2E;
        }
        // padding rows: L = +∞ (their P is 0), D = 0
        new Span<float>(l2 + rows, block - rows).Fill(float.PositiveInfinity);
        new Span<float>(delta + rows, block - rows).Clear();
        Transpose.Copy(queries, dPad, rows, d, QueriesT(head, queryBlock), block);
        Transpose.Copy(dO, dPad, rows, d, DOutputT(head, queryBlock), block);
    }

    /// <summary>Q · scale · log₂e of flat query head (b · h_q + h): s_q_pad × d_pad.</summary>
    public float* Queries(int head) => _queries.Pointer + head * _headSize;

    /// <summary>Its transpose for query block i: d_pad × <see cref="CpuAttentionLayout.Block"/> (block by block, as <see cref="Transpose"/> says).</summary>
    public float* QueriesT(int head, int queryBlock) => _queriesT.Pointer + head * _headSize + (long)queryBlock * CpuAttentionLayout.Block * _headDimPadded;

    /// <summary>dO: s_q_pad × d_pad.</summary>
    public float* DOutput(int head) => _dOutput.Pointer + head * _headSize;

    /// <summary>dO_iᵀ: d_pad × <see cref="CpuAttentionLayout.Block"/>.</summary>
    public float* DOutputT(int head, int queryBlock) => _dOutputT.Pointer + head * _headSize + (long)queryBlock * CpuAttentionLayout.Block * _headDimPadded;

    /// <summary>L · log₂e per row (+∞ past s_q).</summary>
    public float* Lse(int head) => _lse.Pointer + (long)head * _rows;

    /// <summary>D = rowsum(dO ∘ O) per row (0 past s_q).</summary>
    public float* Delta(int head) => _delta.Pointer + (long)head * _rows;

    public void Dispose()
    {
        _queries.Dispose();
        _queriesT.Dispose();
        _dOutput.Dispose();
        _dOutputT.Dispose();
        _lse.Dispose();
        _delta.Dispose();
    }
}
