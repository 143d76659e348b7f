using FlashAttn.Compute.Runtime;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
namespace FlashAttn.Cpu;

/// <summary>
/// K and V of every (batch, kv head) widened to fp32 and packed contiguously, zero-padded to whole key blocks and
/// register tiles: K and V row-major (s_k_pad × d_pad), and for the backward Kᵀ per key block (d_pad × 64 each, see
/// <see cref="Transpose"/>) so that its dQ product streams contiguous keys.
/// O(s_k·d) per head, built once per call in parallel over key blocks; the packs are what every query block reuses.
/// </summary>
internal sealed unsafe class PackedKeysValues : IDisposable
{
    private readonly CpuWorkspace _keys, _values;
    private readonly CpuWorkspace? _keysT;
    private readonly long _headSize;
    private readonly int _headDimPadded;

    private PackedKeysValues(CpuAttentionLayout layout, Accelerator accelerator, bool transposedKeys)
    {
        _headDimPadded = layout.HeadDimPadded;
        _headSize = (long)layout.SeqLenKPadded * layout.HeadDimPadded;
        long total = _headSize * layout.Problem.Batch * layout.Problem.HeadsKV;
        _keys = CpuWorkspace.Rent(accelerator, total);
        if (transposedKeys) _keysT = CpuWorkspace.Rent(accelerator, total);
        _values = CpuWorkspace.Rent(accelerator, total);
    }

    /// <summary>
    /// Packs k and v, (b, s_k, h_kv, d) in storage dtype T, one unit per (kv head, key block) so that every worker has
    /// a share even when b · h_kv is below the thread count. <paramref name="transposedKeys"/>: Kᵀ too (the backward's dQ
    /// product needs it; the forward reads K and V rows only).
    /// </summary>
    public static PackedKeysValues Create<T>(CpuAttentionLayout layout, Accelerator accelerator, T* k, T* v, ParallelOptions parallel,
        bool transposedKeys = true) where T : unmanaged
    {
        var packs = new PackedKeysValues(layout, accelerator, transposedKeys);
        int blocks = layout.KeyBlocks;
        CpuTeam.For(layout.Problem.Batch * layout.Problem.HeadsKV * blocks, parallel,
            unit => packs.Pack(layout, k, v, unit / blocks, unit % blocks));
        return packs;
    }

    /// <summary>Widens and packs key block <paramref name="keyBlock"/> of flat kv head <paramref name="head"/> (b · h_kv + h).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // O(s·d) per head: no tier-0 code
    private void Pack<T>(CpuAttentionLayout layout, T* k, T* v, int head, int keyBlock) where T : unmanaged
    {
        const int block = CpuAttentionLayout.Block;
        var p = layout.Problem;
        int b = head / p.HeadsKV, h = head % p.HeadsKV, d = layout.HeadDim, dPad = layout.HeadDimPadded;
        int j0 = keyBlock * block, rows = Math.Min(block, p.SeqLenK - j0);
        long blockOffset = (long)j0 * dPad, blockSize = (long)block * dPad;
        float* keys = Keys(head) + blockOffset, values = Values(head) + blockOffset;
        // padding (rows past s_k, columns past d) must read as 0; the workspaces are reused
        if (rows < block || d < dPad)
        {
            NativeMemory.Clear(keys, (nuint)blockSize * sizeof(float));
            NativeMemory.Clear(values, (nuint)blockSize * sizeof(float));
            if (_keysT is not null) NativeMemory.Clear(KeysT(head, keyBlock), (nuint)blockSize * sizeof(float));
        }
        for (int r = 0; r < rows; r++)
        {
            long offset = layout.Keys.RowStart(b, j0 + r, h);
            StorageConvert.Widen(k + offset, keys + (long)r * dPad, d, 1f);
            StorageConvert.Widen(v + offset, values + (long)r * dPad, d, 1f);
        }
        if (_keysT is not null) Transpose.Copy(keys, dPad, rows, d, KeysT(head, keyBlock), block);
    }

    /// <summary>K of flat kv head (b · h_kv + h): s_k_pad × d_pad.</summary>
    public float* Keys(int head) => _keys.Pointer + head * _headSize;

    /// <summary>K_jᵀ of flat kv head and key block j: d_pad × <see cref="CpuAttentionLayout.Block"/>, row-major (packs made
    /// with transposedKeys).</summary>
    public float* KeysT(int head, int keyBlock) => _keysT!.Pointer + head * _headSize + (long)keyBlock * CpuAttentionLayout.Block * _headDimPadded;

    /// <summary>V of flat kv head: s_k_pad × d_pad.</summary>
    public float* Values(int head) => _values.Pointer + head * _headSize;

    public void Dispose()
    {
        _keys.Dispose();
        _keysT?.Dispose();
        _values.Dispose();
    }
}
