using FlashAttn.Compute.Runtime;
using FlashAttn.Kernels;

namespace FlashAttn;

/// <summary>
/// A block mask on a device (FlexAttention's BlockMask): which 64 × 64 tiles of scores a mask modifier empties, fills or
/// cuts. Create it with <see cref="FlashAttention.CreateBlockMask{TMask}"/> and pass <see cref="Mask"/> in
/// <see cref="AttentionModifiers{TScore, TMask}"/> with the same mask modifier: on dense calls the GPU kernels and the CPU
/// path then skip the empty tiles (the tensor-core kernels and the CPU path also spare the full ones the element test).
/// Varlen and KV-cache calls ignore it (the mask modifier alone decides; results are the same). Build it on the device of
/// the calls it serves. Dispose it to free its memory.
/// </summary>
public sealed class BlockMaskTensor : IDisposable
{
    private readonly MemoryBuffer<byte> _buffer;

    internal BlockMaskTensor(Device device, MemoryBuffer<byte> buffer, BlockMask mask)
    {
        Device = device;
        _buffer = buffer;
        Mask = mask;
    }

    /// <summary>The device holding the mask.</summary>
    public Device Device { get; }

    /// <summary>The mask, for <see cref="AttentionModifiers{TScore, TMask}"/>.</summary>
    public BlockMask Mask { get; }

    /// <summary>The classes of the blocks (<see cref="BlockMask.Empty"/>, <see cref="BlockMask.Partial"/>, <see cref="BlockMask.Full"/>),
    /// (batches, heads, query blocks, key blocks) as built (a shared dimension has length 1); copies to the host.</summary>
    public byte[] ToArray() => _buffer.ToArray();

    /// <inheritdoc/>
    public void Dispose() => _buffer.Dispose();
}
