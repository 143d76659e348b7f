namespace FlashAttn.Distributed;

/// <summary>
/// One rank of a group of ranks that run attention together (context parallelism: each rank holds a shard of the
/// sequence, see <see cref="ContextParallel"/>). Every rank calls the same collective operations in the same order,
/// each from its own thread or process. Made by <see cref="InProcessGroup.Create(IReadOnlyList{Device}, TimeSpan?)"/> (virtual ranks in one process, for
/// tests and for devices without NCCL) or <see cref="NcclProcessGroup"/> (GPUs over NCCL).
/// </summary>
public abstract class ProcessGroup : IDisposable
{
    private protected ProcessGroup(Device device, int rank, int size)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, size);
        Device = device;
        Rank = rank;
        Size = size;
    }

    /// <summary>The device this rank's tensors live on.</summary>
    public Device Device { get; }

    /// <summary>This rank's index, 0 ≤ <see cref="Rank"/> &lt; <see cref="Size"/>.</summary>
    public int Rank { get; }

    /// <summary>The number of ranks.</summary>
    public int Size { get; }

    /// <summary>The rank this one sends to in a ring shift.</summary>
    public int Next => (Rank + 1) % Size;

    /// <summary>The rank this one receives from in a ring shift.</summary>
    public int Previous => (Rank + Size - 1) % Size;

    /// <summary>True once disposed.</summary>
    public abstract bool IsDisposed { get; }

    /// <summary>
    /// Starts sending each <paramref name="send"/>[i] to <see cref="Next"/> while receiving into <paramref name="receive"/>[i]
    /// from <see cref="Previous"/> (a collective: every rank calls it with tensors of the same dtypes and lengths).
    /// Device work issued after <see cref="IRingTransfer.Wait"/> sees the received data; the sent tensors must not be
    /// written, nor the received ones read, before then.
    /// </summary>
    internal abstract IRingTransfer StartRingShift(IReadOnlyList<DeviceTensor> send, IReadOnlyList<DeviceTensor> receive);

    /// <summary>Every rank's <paramref name="values"/>, indexed by rank (a collective: each rank passes the same count).</summary>
    internal abstract long[][] AllGather(ReadOnlySpan<long> values);

    /// <summary>
    /// Gives the group up after a failure between collectives that the other ranks cannot know of (a ring call that threw
    /// after its ranks agreed to run): in one process, the other ranks' pending and later collectives fail instead of
    /// waiting; over NCCL, the communicator is aborted (NCCL does not tell the peers: they fail at their own timeout).
    /// The group is unusable afterwards.
    /// </summary>
    internal abstract void Abort();

    /// <summary>Releases this rank's transport resources (not its <see cref="Device"/>).</summary>
    public abstract void Dispose();

    /// <inheritdoc/>
    public override string ToString() => $"{GetType().Name} rank {Rank} of {Size} on {Device}";
}

/// <summary>A ring shift in flight (<see cref="ProcessGroup.StartRingShift"/>).</summary>
internal interface IRingTransfer
{
    /// <summary>Orders later work on the rank's device after the transfer (on a GPU without blocking the host where the
    /// transport allows; on the CPU by waiting). The in-process transport rethrows its failure here; NCCL reports
    /// failures asynchronously (a dead peer shows as a hang at the next synchronization), so over NCCL this cannot.</summary>
    void Wait();
}
