using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Distributed;

/// <summary>
/// An NCCL ring shift in flight: its sends and receives are queued on the group's communication stream, followed by a
/// record of <c>done</c>. <see cref="Wait"/> makes the device's current stream wait for that event (the host does not
/// wait); waiting again does nothing.
/// </summary>
internal sealed class NcclRingTransfer : IRingTransfer
{
    private readonly NcclProcessGroup _group;
    private CudaEvent? _done;

    public NcclRingTransfer(NcclProcessGroup group, CudaEvent done)
    {
        _group = group;
        _done = done;
    }

    /// <inheritdoc/>
    public void Wait()
    {
        var done = _done;
        if (done is null) return;
        _group.FinishTransfer(done);
        _done = null;
    }
}

/// <summary>A transfer already ordered on the device's stream (a one-rank group's copy): nothing to wait for.</summary>
internal sealed class CompletedRingTransfer : IRingTransfer
{
    public static CompletedRingTransfer Instance { get; } = new();

    private CompletedRingTransfer()
    {
    }

    /// <inheritdoc/>
    public void Wait()
    {
    }
}
