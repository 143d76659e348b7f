using System.Collections.Concurrent;
using FlashAttn.Compute.Runtime;
using FlashAttn.Kernels;

namespace FlashAttn;

/// <summary>
/// A block mask on a device (FlexAttention's BlockMask): which 64 × 64 tiles of scores a mask modifier empties, fills or
/// cuts. Create it with <see cref="FlashAttention.CreateBlockMask{TMask}"/> and pass <see cref="Mask"/> in
/// <see cref="AttentionModifiers{TScore, TMask}"/> with the same mask modifier: on dense calls the GPU kernels and the CPU
/// path then skip the empty tiles (the tensor-core kernels and the CPU path also spare the full ones the element test).
/// Varlen and KV-cache calls ignore it (the mask modifier alone decides; results are the same). Build it on the device of
/// the calls it serves (a call checks that, and that the mask is not disposed). Dispose it to free its memory.
/// </summary>
public sealed class BlockMaskTensor : IDisposable
{
    // The masks alive now, by identity, with their devices: BlockMask is a plain view the kernels read, so a call finds
    // here whether the one it was given is still allocated and on its device (a stale or foreign one would be read as
    // garbage or fault the device). Identities are never reused, unlike freed addresses.
    private static readonly ConcurrentDictionary<long, Device> Live = new();
    private static long s_lastIdentity;

    private readonly MemoryBuffer<byte> _buffer;
    private int _disposed;

    internal BlockMaskTensor(Device device, MemoryBuffer<byte> buffer, BlockMask mask)
    {
        Device = device;
        _buffer = buffer;
        Mask = mask with { Identity = Interlocked.Increment(ref s_lastIdentity) };
        Live[Mask.Identity] = device;
    }

    /// <summary>The device holding the mask.</summary>
    public Device Device { get; }

    /// <summary>The mask, for <see cref="AttentionModifiers{TScore, TMask}"/>.</summary>
    public BlockMask Mask { get; }

    /// <summary>The classes of the blocks (<see cref="BlockMask.Empty"/>, <see cref="BlockMask.Partial"/>, <see cref="BlockMask.Full"/>),
    /// (batches, heads, query blocks, key blocks) as built (a shared dimension has length 1); copies to the host.</summary>
    public byte[] ToArray() => _buffer.ToArray();

    /// <inheritdoc/>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Live.TryRemove(Mask.Identity, out _);
        _buffer.Dispose();
    }

    /// <summary>Checks that <paramref name="mask"/> (when present) is a live mask of <see cref="FlashAttention.CreateBlockMask{TMask}"/>
    /// on <paramref name="device"/>.</summary>
    /// <exception cref="ArgumentException">It was disposed, not built by CreateBlockMask, or built on another device (ParamName "modifiers").</exception>
    internal static void CheckUsable(BlockMask mask, Device device)
    {
        if (!mask.Present) return;
        if (!Live.TryGetValue(mask.Identity, out var owner))
            throw new ArgumentException("The block mask is disposed or was not built by FlashAttention.CreateBlockMask: " +
                "pass the Mask of a live BlockMaskTensor.", "modifiers");
        if (!ReferenceEquals(owner, device))
            throw new ArgumentException($"The block mask was built on {owner}; the call runs on {device}: build it on the call's device.", "modifiers");
    }
}
