namespace FlashAttn.Distributed;

/// <summary>
/// Ranks of one process that exchange tensors by copying them: virtual ranks on the CPU (any number, on one or several
/// devices) for testing context parallelism without GPUs, or GPUs of one machine without NCCL (each shift then goes
/// through host memory: correct, not fast; use <see cref="NcclProcessGroup"/> for speed). Each rank must call the
/// collectives from its own thread.
/// </summary>
public sealed class InProcessGroup : ProcessGroup
{
    private readonly Hub _hub;
    private long _shifts;
    private long _gathers;
    private bool _disposed;

    private InProcessGroup(Device device, int rank, Hub hub) : base(device, rank, hub.Size) => _hub = hub;

    /// <summary>
    /// One rank per entry of <paramref name="devices"/> (rank i on devices[i]; a device may appear more than once).
    /// A collective that waits longer than <paramref name="timeout"/> for another rank (default 10 minutes) throws
    /// <see cref="TimeoutException"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="devices"/> or one of its entries is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="devices"/> is empty, or holds a disposed device.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is not positive.</exception>
    public static InProcessGroup[] Create(IReadOnlyList<Device> devices, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(devices);
        if (devices.Count == 0) throw new ArgumentException("At least one device (rank) is needed.", nameof(devices));
        for (int i = 0; i < devices.Count; i++)
        {
            if (devices[i] is null) throw new ArgumentNullException(nameof(devices), $"devices[{i}] is null.");
            if (devices[i].IsDisposed) throw new ArgumentException($"devices[{i}] has been disposed.", nameof(devices));
        }
        var wait = timeout ?? TimeSpan.FromMinutes(10);
        if (wait <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout must be positive.");
        var hub = new Hub(devices.Count, wait);
        var ranks = new InProcessGroup[devices.Count];
        for (int i = 0; i < ranks.Length; i++) ranks[i] = new InProcessGroup(devices[i], i, hub);
        return ranks;
    }

    /// <summary><paramref name="size"/> ranks on one <paramref name="device"/> (virtual ranks; see <see cref="Create(IReadOnlyList{Device}, TimeSpan?)"/>).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is less than 1.</exception>
    public static InProcessGroup[] Create(Device device, int size, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        return Create(Enumerable.Repeat(device, size).ToArray(), timeout);
    }

    /// <inheritdoc/>
    public override bool IsDisposed => _disposed;

    internal override IRingTransfer StartRingShift(IReadOnlyList<DeviceTensor> send, IReadOnlyList<DeviceTensor> receive)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        TransferChecks.CheckPairs(this, send, receive);
        long generation = ++_shifts;
        // a dedicated thread: the copy blocks on the other ranks, and thread-pool threads run the CPU path's work
        var copy = Task.Factory.StartNew(() => _hub.Shift(Rank, generation, send, receive), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return new Transfer(copy);
    }

    internal override long[][] AllGather(ReadOnlySpan<long> values)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _hub.AllGather(Rank, ++_gathers, values.ToArray());
    }

    internal override void Abort() => _hub.Leave(Rank);

    /// <summary>Leaves the group: collectives of other ranks waiting on this one fail instead of timing out.</summary>
    public override void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _hub.Leave(Rank);
    }

    private sealed class Transfer(Task copy) : IRingTransfer
    {
        public void Wait() => copy.GetAwaiter().GetResult();
    }

    /// <summary>What the ranks of one group share: the send tensors each rank posted, by generation (a rank may have a
    /// shift of each ring in flight), and the gathered values.</summary>
    private sealed class Hub(int size, TimeSpan timeout)
    {
        private readonly object _lock = new();
        private readonly Dictionary<(int Rank, long Generation), IReadOnlyList<DeviceTensor>> _posted = [];
        private readonly HashSet<(int Rank, long Generation)> _consumed = [];
        private readonly Dictionary<long, (long[]?[] Values, int Readers)> _gathers = [];
        private readonly bool[] _left = new bool[size];

        public int Size => size;

        public void Shift(int rank, long generation, IReadOnlyList<DeviceTensor> send, IReadOnlyList<DeviceTensor> receive)
        {
            int previous = (rank + size - 1) % size, next = (rank + 1) % size;
            IReadOnlyList<DeviceTensor>? incoming = null;
            lock (_lock)
            {
                _posted[(rank, generation)] = send;
                Monitor.PulseAll(_lock);
                WaitFor(() => _posted.TryGetValue((previous, generation), out incoming), previous, "ring shift");
            }
            try
            {
                if (incoming!.Count != receive.Count)
                    throw new ArgumentException($"Rank {previous} sent {incoming.Count} tensors; rank {rank} receives {receive.Count}.", nameof(receive));
                for (int i = 0; i < receive.Count; i++)
                {
                    if (incoming[i].DType != receive[i].DType || incoming[i].Length != receive[i].Length)
                        throw new ArgumentException($"Rank {previous} sent {incoming[i]} as tensor {i}; rank {rank} receives into {receive[i]}.", nameof(receive));
                    incoming[i].CopyElementsTo(receive[i]);
                }
            }
            finally
            {
                lock (_lock)
                {
                    // released even on failure, so that the sender is not left waiting
                    _posted.Remove((previous, generation));
                    _consumed.Add((previous, generation));
                    Monitor.PulseAll(_lock);
                }
            }
            lock (_lock)
            {
                WaitFor(() => _consumed.Contains((rank, generation)), next, "ring shift");
                _consumed.Remove((rank, generation));
            }
        }

        public long[][] AllGather(int rank, long generation, long[] values)
        {
            lock (_lock)
            {
                if (!_gathers.TryGetValue(generation, out var entry)) entry = (new long[]?[size], 0);
                entry.Values[rank] = values;
                _gathers[generation] = entry;
                Monitor.PulseAll(_lock);
                WaitFor(() => Array.TrueForAll(_gathers[generation].Values, v => v is not null), -1, "all-gather");
                entry = _gathers[generation];
                var result = entry.Values.Select(v => (long[])v!.Clone()).ToArray();
                if (entry.Readers + 1 == size) _gathers.Remove(generation);
                else _gathers[generation] = (entry.Values, entry.Readers + 1);
                return result;
            }
        }

        public void Leave(int rank)
        {
            lock (_lock)
            {
                _left[rank] = true;
                Monitor.PulseAll(_lock);
            }
        }

        /// <summary>Waits (holding the lock between checks) until <paramref name="done"/>; fails when a rank it waits on
        /// (<paramref name="peer"/>; −1: any) has left, or after the timeout.</summary>
        private void WaitFor(Func<bool> done, int peer, string what)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (!done())
            {
                int gone = peer >= 0 ? (_left[peer] ? peer : -1) : Array.IndexOf(_left, true);
                if (gone >= 0)
                    throw new InvalidOperationException($"The {what} cannot complete: rank {gone} has left the group (disposed).");
                var remaining = deadline - DateTime.UtcNow;
                if (remaining <= TimeSpan.Zero)
                    throw new TimeoutException($"The {what} waited {timeout} for rank {(peer >= 0 ? peer.ToString() : "of the group")}; " +
                        "does every rank call the same collectives in the same order, each from its own thread?");
                Monitor.Wait(_lock, remaining);
            }
        }
    }
}
