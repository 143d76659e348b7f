using System.Runtime.InteropServices;

namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// Per-thread bump allocator for <c>LocalMemory.Allocate</c> and interpreter allocas: native chunks that
/// are kept for reuse and recycled by <see cref="Reset"/> each time a thread's kernel body starts.
/// Allocations are zeroed (as <c>LocalMemory</c> documents for the CPU). Blocks never move.
/// </summary>
internal sealed unsafe class CpuLocalArena : IDisposable
{
    private const int ChunkBytes = 64 * 1024;

    private readonly List<(nint Start, int Size)> _chunks = [];
    private int _chunk;   // index of the chunk being filled
    private int _used;    // bytes used in that chunk

    /// <summary>Forgets every allocation (the memory is reused by later ones).</summary>
    public void Reset()
    {
        _chunk = 0;
        _used = 0;
    }

    /// <summary>A zeroed block of <paramref name="bytes"/> bytes aligned to <paramref name="alignment"/> (a power of two ≤ 256).</summary>
    public nint Allocate(int bytes, int alignment)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (alignment < 1) alignment = 1;
        if (alignment > 256 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "Local memory alignment must be a power of two up to 256.");
        while (true)
        {
            if (_chunk < _chunks.Count)
            {
                var (start, size) = _chunks[_chunk];
                int offset = (_used + alignment - 1) & -alignment;
                if ((long)offset + bytes <= size)
                {
                    _used = offset + bytes;
                    nint block = start + offset;
                    NativeMemory.Clear((void*)block, (nuint)bytes);
                    return block;
                }
                _chunk++;
                _used = 0;
                continue;
            }
            int chunkSize = Math.Max(ChunkBytes, bytes);
            _chunks.Add(((nint)NativeMemory.AlignedAlloc((nuint)chunkSize, 256), chunkSize));
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var (start, _) in _chunks) NativeMemory.AlignedFree((void*)start);
        _chunks.Clear();
        Reset();
    }
}
