using FlashAttn.Compute.Runtime;
using System.Runtime.CompilerServices;
namespace FlashAttn.Cpu;

/// <summary>
/// K and V of every (batch, kv head) widened to fp32 and packed contiguously, zero-padded to whole key blocks and
/// register tiles: K and V row-major (s_k_pad × d_pad), Kᵀ per key block (d_pad × 64 each, see
/// <see cref="Transpose.ToBlocks"/>) so that Q·Kᵀ streams contiguous keys.
/// O(s_k·d) per head, built once per call in parallel; the packs are what every query block reuses.
/// </summary>
internal sealed unsafe class PackedKeysValues : IDisposable
{
    private readonly CpuWorkspace _keys, _keysT, _values;
    private readonly long _headSize;
    private readonly int _headDimPadded;

    private PackedKeysValues(CpuAttentionLayout layout, Accelerator accelerator)
    {
        _headDimPadded = layout.HeadDimPadded;
        _headSize = (long)layout.SeqLenKPadded * layout.HeadDimPadded;
        long total = _headSize * layout.Problem.Batch * layout.Problem.HeadsKV;
        _keys = CpuWorkspace.Rent(accelerator, total);
        _keysT = CpuWorkspace.Rent(accelerator, total);
        _values = CpuWorkspace.Rent(accelerator, total);
    }

    /// <summary>Packs k and v, (b, s_k, h_kv, d) in storage dtype T.</summary>
    public static PackedKeysValues Create<T>(CpuAttentionLayout layout, Accelerator accelerator, T* k, T* v, ParallelOptions parallel)
        where T : unmanaged
    {
        var packs = new PackedKeysValues(layout, accelerator);
        Parallel.For(0, layout.Problem.Batch * layout.Problem.HeadsKV, parallel, head => packs.Pack(layout, k, v, head));
        return packs;
    }

    /// <summary>Widens and packs flat kv head <paramref name="head"/> (b · h_kv + h).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // O(s·d) per head: no tier-0 code
    private void Pack<T>(CpuAttentionLayout layout, T* k, T* v, int head) where T : unmanaged
    {
        var p = layout.Problem;
        int b = head / p.HeadsKV, h = head % p.HeadsKV, d = layout.HeadDim;
        float* keys = Keys(head), values = Values(head);
        // padding (rows past s_k, columns past d) must read as 0; the workspaces are reused
        foreach (var pack in (ReadOnlySpan<CpuWorkspace>)[_keys, _keysT, _values]) pack.Clear(head * _headSize, _headSize);
        for (int j = 0; j < p.SeqLenK; j++)
        {
            long offset = layout.RowOffset(b, j, p.HeadsKV, h, p.SeqLenK);
            StorageConvert.Widen(k + offset, keys + (long)j * layout.HeadDimPadded, d, 1f);
            StorageConvert.Widen(v + offset, values + (long)j * layout.HeadDimPadded, d, 1f);
        }
        Transpose.ToBlocks(keys, layout.HeadDimPadded, p.SeqLenK, d, KeysT(head, 0), layout.HeadDimPadded);
    }

    /// <summary>K of flat kv head (b · h_kv + h): s_k_pad × d_pad.</summary>
    public float* Keys(int head) => _keys.Pointer + head * _headSize;

    /// <summary>K_jᵀ of flat kv head and key block j: d_pad × <see cref="CpuAttentionLayout.Block"/>, row-major.</summary>
    public float* KeysT(int head, int keyBlock) => _keysT.Pointer + head * _headSize + (long)keyBlock * CpuAttentionLayout.Block * _headDimPadded;

    /// <summary>V of flat kv head: s_k_pad × d_pad.</summary>
    public float* Values(int head) => _values.Pointer + head * _headSize;

    public void Dispose()
    {
        _keys.Dispose();
        _keysT.Dispose();
        _values.Dispose();
    }
}
