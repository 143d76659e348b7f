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

    /// <summary>Packs q, dO (b, s_q, h_q, d) and the forward's output and lse (b, h_q, s_q).</summary>
    public static PackedQueries Create<T>(CpuAttentionLayout layout, Accelerator accelerator, T* q, T* output, T* dOutput, float* lse,
        ParallelOptions parallel) where T : unmanaged
    {
        var packs = new PackedQueries(layout, accelerator);
        CpuTeam.For(layout.Problem.Batch * layout.Problem.HeadsQ, parallel, head => packs.Pack(layout, q, output, dOutput, lse, head));
        return packs;
    }

    /// <summary>Widens and packs flat query head <paramref name="head"/> (b · h_q + h).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // O(s·d) per head: no tier-0 code
    private void Pack<T>(CpuAttentionLayout layout, T* q, T* output, T* dOutput, float* lse, int head) where T : unmanaged
    {
        var p = layout.Problem;
        int b = head / p.HeadsQ, h = head % p.HeadsQ, d = layout.HeadDim, dPad = layout.HeadDimPadded;
        float* queries = Queries(head), dO = DOutput(head), l2 = Lse(head), delta = Delta(head);
        // padding (rows past s_q, columns past d) must read as 0; the workspaces are reused
        foreach (var pack in (ReadOnlySpan<CpuWorkspace>)[_queries, _queriesT, _dOutput, _dOutputT]) pack.Clear(head * _headSize, _headSize);
        _delta.Clear((long)head * _rows, _rows);
        float* o = stackalloc float[d];
        for (int i = 0; i < p.SeqLenQ; i++)
        {
            long offset = layout.Queries.RowStart(b, i, h);
            StorageConvert.Widen(q + offset, queries + (long)i * dPad, d, p.Scale * SoftmaxLog2.Log2E);
            StorageConvert.Widen(dOutput + offset, dO + (long)i * dPad, d, 1f);
            StorageConvert.Widen(output + offset, o, d, 1f);
            // D_i = Σ_x dO_ix O_ix  (= Σ_j P_ij dP_ij)
            delta[i] = TensorPrimitives.Dot(new ReadOnlySpan<float>(dO + (long)i * dPad, d), new ReadOnlySpan<float>(o, d));
            l2[i] = lse[(long)head * p.SeqLenQ + i] * SoftmaxLog2.Log2E;
        }
        new Span<float>(l2 + p.SeqLenQ, _rows - p.SeqLenQ).Fill(float.PositiveInfinity);
        Transpose.ToBlocks(queries, dPad, p.SeqLenQ, d, QueriesT(head, 0), dPad);
        Transpose.ToBlocks(dO, dPad, p.SeqLenQ, d, DOutputT(head, 0), dPad);
    }

    /// <summary>Q · scale · log₂e of flat query head (b · h_q + h): s_q_pad × d_pad.</summary>
    public float* Queries(int head) => _queries.Pointer + head * _headSize;

    /// <summary>Its transpose for query block i: d_pad × <see cref="CpuAttentionLayout.Block"/> (<see cref="Transpose.ToBlocks"/>).</summary>
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
