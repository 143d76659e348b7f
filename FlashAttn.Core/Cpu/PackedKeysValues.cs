namespace FlashAttn.Cpu;

/// <summary>
/// K and V of every (batch, kv head) widened to fp32 and packed contiguously, zero-padded to whole key blocks and
/// register tiles: K and V row-major (s_k_pad × d_pad), Kᵀ (d_pad × s_k_pad) so that Q·Kᵀ streams contiguous keys.
/// O(s_k·d) per head, built once per call in parallel; the packs are what every query block reuses.
/// </summary>
internal sealed unsafe class PackedKeysValues : IDisposable
{
    private readonly AlignedBuffer _keys, _keysT, _values;
    private readonly long _headSize;

    private PackedKeysValues(CpuAttentionLayout layout)
    {
        _headSize = (long)layout.SeqLenKPadded * layout.HeadDimPadded;
        long total = _headSize * layout.Problem.Batch * layout.Problem.HeadsKV;
        _keys = AlignedBuffer.Zeroed(total);
        _keysT = AlignedBuffer.Zeroed(total);
        _values = AlignedBuffer.Zeroed(total);
    }

    /// <summary>Packs k and v, (b, s_k, h_kv, d) in storage dtype T.</summary>
    public static PackedKeysValues Create<T>(CpuAttentionLayout layout, T* k, T* v, ParallelOptions parallel) where T : unmanaged
    {
        var packs = new PackedKeysValues(layout);
        var p = layout.Problem;
        Parallel.For(0, p.Batch * p.HeadsKV, parallel, head =>
        {
            int b = head / p.HeadsKV, h = head % p.HeadsKV, d = layout.HeadDim;
            float* keys = packs.Keys(head), values = packs.Values(head);
            for (int j = 0; j < p.SeqLenK; j++)
            {
                long offset = layout.RowOffset(b, j, p.HeadsKV, h, p.SeqLenK);
                StorageConvert.Widen(k + offset, keys + (long)j * layout.HeadDimPadded, d, 1f);
                StorageConvert.Widen(v + offset, values + (long)j * layout.HeadDimPadded, d, 1f);
            }
            Transpose.Copy(keys, layout.HeadDimPadded, p.SeqLenK, d, packs.KeysT(head), layout.SeqLenKPadded);
        });
        return packs;
    }

    /// <summary>K of flat kv head (b · h_kv + h): s_k_pad × d_pad.</summary>
    public float* Keys(int head) => _keys.Pointer + head * _headSize;

    /// <summary>Kᵀ of flat kv head: d_pad × s_k_pad.</summary>
    public float* KeysT(int head) => _keysT.Pointer + head * _headSize;

    /// <summary>V of flat kv head: s_k_pad × d_pad.</summary>
    public float* Values(int head) => _values.Pointer + head * _headSize;

    public void Dispose()
    {
        _keys.Dispose();
        _keysT.Dispose();
        _values.Dispose();
    }
}
