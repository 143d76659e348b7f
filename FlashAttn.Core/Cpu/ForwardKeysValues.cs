using FlashAttn.Compute.Runtime;

namespace FlashAttn.Cpu;

/// <summary>
/// Where the forward reads each K_j and V_j: row-major rows of one stride. fp32 inputs whose head_dim is whole register
/// tiles are read in place: no pass over K and V before the blocks, and nothing written that other cores' caches then
/// hold (on the 16-core Xeon host that pass took 0.2–0.8 ms of a 1–5 ms forward at s ≤ 2k, 2026-12-07). Other inputs
/// (fp16/bf16, head dims that are not) are widened into <see cref="PackedKeysValues"/>, zero-padded. In place, a last key
/// block shorter than <see cref="CpuAttentionLayout.Block"/> rows is first copied to a zero-padded worker block (a
/// register tile of K reads 8 rows at a time, which past s_k could leave the tensor); V is only read up to the last key.
/// </summary>
internal sealed unsafe class ForwardKeysValues : IDisposable
{
    private readonly CpuAttentionLayout _layout;
    private readonly PackedKeysValues? _packs;
    private readonly float* _keys, _values;

    private ForwardKeysValues(CpuAttentionLayout layout, PackedKeysValues? packs, float* keys, float* values)
    {
        _layout = layout;
        _packs = packs;
        _keys = keys;
        _values = values;
        Stride = packs is null ? (int)layout.Keys.PositionStride : layout.HeadDimPadded;
    }

    /// <summary>In place for fp32 k and v whose rows are whole register tiles and whose strides fit the micro-kernels.</summary>
    public static ForwardKeysValues Create<T>(CpuAttentionLayout layout, Accelerator accelerator, T* k, T* v, ParallelOptions parallel)
        where T : unmanaged
        => typeof(T) == typeof(float) && layout.HeadDim == layout.HeadDimPadded && layout.Keys.PositionStride <= int.MaxValue
            ? new(layout, null, (float*)k, (float*)v)
            : new(layout, PackedKeysValues.Create(layout, accelerator, k, v, parallel, transposedKeys: false), null, null);

    /// <summary>Elements between consecutive rows of <see cref="Values"/> (and of <see cref="Keys"/>, unless it says otherwise).</summary>
    public int Stride { get; }

    /// <summary>
    /// K_j of key block <paramref name="keyBlock"/> of kv head (<paramref name="b"/>, <paramref name="kvHead"/>): 64 rows of
    /// <paramref name="stride"/> elements, rows past s_k zero. <paramref name="edge"/> is the worker's 64 × d_pad block that
    /// a short last block read in place is copied to.
    /// </summary>
    public float* Keys(int b, int kvHead, int keyBlock, float* edge, out int stride)
    {
        const int block = CpuAttentionLayout.Block;
        stride = Stride;
        int j0 = keyBlock * block;
        if (_packs is not null) return _packs.Keys(b * _layout.Problem.HeadsKV + kvHead) + (long)j0 * stride;
        float* rows = _keys + _layout.Keys.RowStart(b, j0, kvHead);
        int count = _layout.SeqLenK - j0;
        if (count >= block) return rows;
        int d = _layout.HeadDimPadded;
        for (int r = 0; r < count; r++) Buffer.MemoryCopy(rows + (long)r * stride, edge + r * d, d * sizeof(float), d * sizeof(float));
        new Span<float>(edge + count * d, (block - count) * d).Clear();
        stride = d;
        return edge;
    }

    /// <summary>V_j of key block <paramref name="keyBlock"/> of kv head (<paramref name="b"/>, <paramref name="kvHead"/>):
    /// rows of <see cref="Stride"/> elements, valid up to s_k (a packed block is zero past it).</summary>
    public float* Values(int b, int kvHead, int keyBlock)
    {
        long j0 = (long)keyBlock * CpuAttentionLayout.Block;
        return _packs is not null
            ? _packs.Values(b * _layout.Problem.HeadsKV + kvHead) + j0 * Stride
            : _values + _layout.Keys.RowStart(b, (int)j0, kvHead);
    }

    public void Dispose() => _packs?.Dispose();
}
