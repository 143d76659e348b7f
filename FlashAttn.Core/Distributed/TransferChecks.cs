namespace FlashAttn.Distributed;

/// <summary>Argument checks shared by the transports: the one place a ring shift's tensor lists are validated.</summary>
internal static class TransferChecks
{
    /// <summary>send and receive are lists of live tensors on the rank's device, pairwise of one dtype and length.</summary>
    public static void CheckPairs(ProcessGroup group, IReadOnlyList<DeviceTensor> send, IReadOnlyList<DeviceTensor> receive)
    {
        ArgumentNullException.ThrowIfNull(send);
        ArgumentNullException.ThrowIfNull(receive);
        if (send.Count != receive.Count)
            throw new ArgumentException($"receive has {receive.Count} tensors; send has {send.Count}.", nameof(receive));
        for (int i = 0; i < send.Count; i++)
        {
            var from = send[i] ?? throw new ArgumentException($"send[{i}] is null.", nameof(send));
            var to = receive[i] ?? throw new ArgumentException($"receive[{i}] is null.", nameof(receive));
            if (from.IsDisposed) throw new ArgumentException($"send[{i}] has been disposed.", nameof(send));
            if (to.IsDisposed) throw new ArgumentException($"receive[{i}] has been disposed.", nameof(receive));
            if (from.Device != group.Device)
                throw new ArgumentException($"send[{i}] lives on {from.Device}; this rank's device is {group.Device}.", nameof(send));
            if (to.Device != group.Device)
                throw new ArgumentException($"receive[{i}] lives on {to.Device}; this rank's device is {group.Device}.", nameof(receive));
            if (from.DType != to.DType)
                throw new ArgumentException($"receive[{i}] is {to.DType} but send[{i}] is {from.DType}.", nameof(receive));
            if (from.Length != to.Length)
                throw new ArgumentException($"receive[{i}] has {to.Length} elements but send[{i}] has {from.Length}.", nameof(receive));
        }
    }
}
