using FlashAttn.Compute.Runtime;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
namespace FlashAttn.Cpu;

/// <summary>
/// K and V of every (batch, kv head) widened to fp32 and packed contiguously, zero-padded to whole key blocks and
/// register tiles: K and V row-major (s_k_pad × d_pad), Kᵀ per key block (d_pad × 64 each, see
/// <see cref="Transpose.ToBlocks"/>) so that Q·Kᵀ streams contiguous keys.
/// O(s_k·d) per head, built once per call in parallel over key blocks; the packs are what every query block reuses.
/// </summary>
internal sealed unsafe class PackedKeysValues : IDisposable
{
    private readonly CpuWorkspace? _keys;
    private readonly CpuWorkspace _keysT, _values;
    private readonly long _headSize;
    private readonly int _headDimPadded;

    private PackedKeysValues(CpuAttentionLayout layout, Accelerator accelerator, bool rowMajorKeys)
    {
        _headDimPadded = layout.HeadDimPadded;
        _headSize = (long)layout.SeqLenKPadded * layout.HeadDimPadded;
        long total = _headSize * layout.Problem.Batch * layout.Problem.HeadsKV;
        if (rowMajorKeys) _keys = CpuWorkspace.Rent(accelerator, total);
        _keysT = CpuWorkspace.Rent(accelerator, total);
        _values = CpuWorkspace.Rent(accelerator, total);
    }

    /// <summary>
    /// Packs k and v, (b, s_k, h_kv, d) in storage dtype T, one unit per (kv head, key block) so that every worker has
    /// a share even when b · h_kv is below the thread count. <paramref name="rowMajorKeys"/>: keep K row-major too (the
    /// backward's dV/dK products need it; the forward only reads Kᵀ and V).
    /// </summary>
    public static PackedKeysValues Create<T>(CpuAttentionLayout layout, Accelerator accelerator, T* k, T* v, ParallelOptions parallel,
        bool rowMajorKeys = true) where T : unmanaged
    {
        var packs = new PackedKeysValues(layout, accelerator, rowMajorKeys);
        int blocks = layout.KeyBlocks;
        CpuTeam.For(layout.Problem.Batch * layout.Problem.HeadsKV * blocks, parallel,
            unit => packs.Pack(layout, k, v, unit / blocks, unit % blocks));
        return packs;
    }

    /// <summary>Widens and packs key block <paramref name="keyBlock"/> of flat kv head <paramref name="head"/> (b · h_kv + h).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // O(s·d) per head: no tier-0 code
    [SkipLocalsInit] // the stack block, where there is one, is written before it is read (its padding cleared below): no zeroing
    private void Pack<T>(CpuAttentionLayout layout, T* k, T* v, int head, int keyBlock) where T : unmanaged
    {
        const int block = CpuAttentionLayout.Block;
        var p = layout.Problem;
        int b = head / p.HeadsKV, h = head % p.HeadsKV, d = layout.HeadDim, dPad = layout.HeadDimPadded;
        int j0 = keyBlock * block, rows = Math.Min(block, p.SeqLenK - j0);
        long blockOffset = (long)j0 * dPad, blockSize = (long)block * dPad;
        // fp32 K without a row-major pack is transposed straight from its rows: no widening, no stack block
        bool direct = typeof(T) == typeof(float) && _keys is null && layout.Keys.PositionStride <= int.MaxValue;
        // otherwise K rows go to the row-major pack, or (forward) to a block on the stack that only feeds the transpose
        float* scratch = stackalloc float[_keys is null && !direct ? block * dPad : 0];
        float* keys = _keys is null ? scratch : Keys(head) + blockOffset, values = Values(head) + blockOffset;
        // padding (rows past s_k, columns past d) must read as 0; the workspaces are reused
        if (rows < block || d < dPad)
        {
            if (!direct) NativeMemory.Clear(keys, (nuint)blockSize * sizeof(float));
            NativeMemory.Clear(values, (nuint)blockSize * sizeof(float));
            NativeMemory.Clear(KeysT(head, keyBlock), (nuint)blockSize * sizeof(float));
        }
        for (int r = 0; r < rows; r++)
        {
            long offset = layout.Keys.RowStart(b, j0 + r, h);
            if (!direct) StorageConvert.Widen(k + offset, keys + (long)r * dPad, d, 1f);
            StorageConvert.Widen(v + offset, values + (long)r * dPad, d, 1f);
        }
        if (direct) Transpose.Copy((float*)k + layout.Keys.RowStart(b, j0, h), (int)layout.Keys.PositionStride, rows, d, KeysT(head, keyBlock), block);
        else Transpose.Copy(keys, dPad, rows, d, KeysT(head, keyBlock), block);
    }

    /// <summary>K of flat kv head (b · h_kv + h): s_k_pad × d_pad.</summary>
    public float* Keys(int head) => _keys!.Pointer + head * _headSize;

    /// <summary>K_jᵀ of flat kv head and key block j: d_pad × <see cref="CpuAttentionLayout.Block"/>, row-major.</summary>
    public float* KeysT(int head, int keyBlock) => _keysT.Pointer + head * _headSize + (long)keyBlock * CpuAttentionLayout.Block * _headDimPadded;

    /// <summary>V of flat kv head: s_k_pad × d_pad.</summary>
    public float* Values(int head) => _values.Pointer + head * _headSize;

    public void Dispose()
    {
        _keys?.Dispose();
        _keysT.Dispose();
        _values.Dispose();
    }
}
