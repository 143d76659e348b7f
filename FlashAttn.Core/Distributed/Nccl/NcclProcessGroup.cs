using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Distributed;

/// <summary>
/// A rank of a group of GPUs that exchange tensors through NCCL (ring shifts as point-to-point send/receive pairs,
/// all-gathers as NCCL collectives) on a communication stream of its own, ordered against the device's current stream
/// with events, so that a transfer can overlap computation without the host waiting.
/// </summary>
/// <remarks>
/// <para>Two ways to make ranks. One process per GPU: each process calls <see cref="Create(Device, int, int, NcclUniqueId)"/>
/// (or the overload taking an <see cref="NcclRendezvous"/>) with the same id, its own rank and its own device; the call
/// returns once every rank has joined. One process driving several GPUs: <see cref="CreateAll"/> makes every rank at
/// once; then each rank's collective operations must be called from a thread of its own (all ranks' calls of one
/// operation run concurrently; a single thread calling them one rank after the other would wait forever for the ranks
/// it has not reached).</para>
/// <para>NCCL is loaded at the first group (see <c>FLASHATTN_NCCL_LIBRARY</c>); devices are those of
/// <see cref="Device.Cuda"/>, whose primary context NCCL shares. A rank is used from one thread at a time. Dispose the
/// group before its device.</para>
/// </remarks>
public sealed unsafe class NcclProcessGroup : ProcessGroup
{
    private readonly NcclLibrary _nccl;
    private readonly CudaAccelerator _accelerator;
    private readonly CudaStream _stream;
    private readonly CudaEvent _computeReady;
    private readonly Stack<CudaEvent> _idleEvents = new();
    private readonly List<CudaEvent> _events = [];
    private nint _comm;
    private bool _disposed;
    private bool _failed;

    private NcclProcessGroup(Device device, int rank, int size, NcclLibrary nccl, nint comm) : base(device, rank, size)
    {
        _nccl = nccl;
        _accelerator = (CudaAccelerator)device.Accelerator;
        _comm = comm;
        _stream = _accelerator.CreateStream(nonBlocking: true);
        try
        {
            _computeReady = _accelerator.CreateEvent(timing: false);
        }
        catch
        {
            _stream.Dispose();
            throw;
        }
    }

    /// <summary>True when the NCCL library loads (it does not check for GPUs). Never throws.</summary>
    public static bool IsAvailable => NcclLibrary.IsAvailable;

    /// <summary>
    /// Joins the group <paramref name="id"/> names as rank <paramref name="rank"/> of <paramref name="size"/> on
    /// <paramref name="device"/> (ncclCommInitRank): one process (or thread) per GPU, every rank passing the same id.
    /// Returns once all <paramref name="size"/> ranks have joined.
    /// </summary>
    /// <param name="device">This rank's GPU (<see cref="Device.Cuda"/>).</param>
    /// <param name="rank">This rank, 0 ≤ rank &lt; size.</param>
    /// <param name="size">The number of ranks.</param>
    /// <param name="id">The group's id, made once by <see cref="NcclUniqueId.Create"/> and handed to every rank.</param>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> or <paramref name="id"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is below 1, or <paramref name="rank"/> is
    /// outside [0, size).</exception>
    /// <exception cref="ArgumentException"><paramref name="device"/> is not a CUDA device.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="device"/> was disposed.</exception>
    /// <exception cref="DeviceUnavailableException">NCCL could not be loaded.</exception>
    /// <exception cref="NcclException">NCCL failed to create the communicator.</exception>
    public static NcclProcessGroup Create(Device device, int rank, int size, NcclUniqueId id)
    {
        Validate(device, rank, size);
        ArgumentNullException.ThrowIfNull(id);
        RequireCuda(device, nameof(device));
        device.ThrowIfDisposed();
        var nccl = NcclLibrary.Load();
        var accelerator = (CudaAccelerator)device.Accelerator;
        accelerator.MakeCurrent();
        nint comm;
        nccl.Check(nccl.ncclCommInitRank(&comm, size, id.ToNative(), rank), "ncclCommInitRank");
        return Wrap(device, rank, size, nccl, comm);
    }

    /// <summary>
    /// Joins a group as <see cref="Create(Device, int, int, NcclUniqueId)"/> does, agreeing on its id through
    /// <paramref name="rendezvous"/> first (rank 0 of a <see cref="FileRendezvous"/> makes and publishes it; the other
    /// ranks wait for it; an <see cref="EnvironmentRendezvous"/> reads it on every rank).
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> or <paramref name="rendezvous"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is below 1, or <paramref name="rank"/> is
    /// outside [0, size).</exception>
    /// <exception cref="ArgumentException"><paramref name="device"/> is not a CUDA device.</exception>
    /// <exception cref="DeviceUnavailableException">NCCL could not be loaded.</exception>
    /// <exception cref="NcclException">NCCL failed.</exception>
    /// <exception cref="TimeoutException">The rendezvous gave up waiting for the id.</exception>
    public static NcclProcessGroup Create(Device device, int rank, int size, NcclRendezvous rendezvous)
    {
        Validate(device, rank, size);
        ArgumentNullException.ThrowIfNull(rendezvous);
        RequireCuda(device, nameof(device));
        device.ThrowIfDisposed();
        var id = rendezvous.GetUniqueId(rank, NcclUniqueId.Create)
            ?? throw new InvalidOperationException($"{rendezvous.GetType().Name}.GetUniqueId returned null.");
        return Create(device, rank, size, id);
    }

    /// <summary>
    /// Makes one rank per device, rank i on <paramref name="devices"/>[i], all in this process (ncclCommInitAll). Each
    /// rank's collective operations must then be called from a thread of its own, concurrently with the other ranks'.
    /// </summary>
    /// <param name="devices">Distinct CUDA devices (<see cref="Device.Cuda"/>), one per rank.</param>
    /// <returns>The ranks, indexed by rank.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="devices"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="devices"/> is empty, holds a null, a device that is not a CUDA
    /// device, or the same GPU twice.</exception>
    /// <exception cref="ObjectDisposedException">A device was disposed.</exception>
    /// <exception cref="DeviceUnavailableException">NCCL could not be loaded.</exception>
    /// <exception cref="NcclException">NCCL failed to create the communicators.</exception>
    public static NcclProcessGroup[] CreateAll(IReadOnlyList<Device> devices)
    {
        ArgumentNullException.ThrowIfNull(devices);
        int count = devices.Count;
        if (count == 0) throw new ArgumentException("devices is empty: a group needs at least one rank.", nameof(devices));
        for (int i = 0; i < count; i++)
        {
            if (devices[i] is null) throw new ArgumentException($"devices[{i}] is null.", nameof(devices));
            for (int j = 0; j < i; j++)
                if (ReferenceEquals(devices[j], devices[i]))
                    throw new ArgumentException($"devices[{i}] is devices[{j}] again: each rank needs a GPU of its own.", nameof(devices));
        }
        for (int i = 0; i < count; i++) RequireCuda(devices[i], nameof(devices), $"devices[{i}]");
        var ordinals = new int[count];
        for (int i = 0; i < count; i++)
        {
            devices[i].ThrowIfDisposed();
            ordinals[i] = ((CudaAccelerator)devices[i].Accelerator).Ordinal;
            for (int j = 0; j < i; j++)
                if (ordinals[j] == ordinals[i])
                    throw new ArgumentException(
                        $"devices[{j}] and devices[{i}] are both CUDA device {ordinals[i]}: NCCL needs a GPU of its own for each rank.",
                        nameof(devices));
        }

        var nccl = NcclLibrary.Load();
        var comms = new nint[count];
        fixed (nint* commPointer = comms)
        fixed (int* ordinalPointer = ordinals)
            nccl.Check(nccl.ncclCommInitAll(commPointer, count, ordinalPointer), "ncclCommInitAll");

        var groups = new NcclProcessGroup[count];
        int made = 0;
        try
        {
            for (; made < count; made++) groups[made] = Wrap(devices[made], made, count, nccl, comms[made]);
            return groups;
        }
        catch
        {
            // Wrap destroyed the communicator it failed on; release the others.
            for (int i = 0; i < made; i++) groups[i].Abandon();
            for (int i = made + 1; i < count; i++) nccl.ncclCommAbort(comms[i]);
            throw;
        }
    }

    /// <summary>The rank record around a new communicator; destroys the communicator if making it fails.</summary>
    private static NcclProcessGroup Wrap(Device device, int rank, int size, NcclLibrary nccl, nint comm)
    {
        try
        {
            return new NcclProcessGroup(device, rank, size, nccl, comm);
        }
        catch
        {
            nccl.ncclCommAbort(comm);
            throw;
        }
    }

    /// <summary>The argument checks of every factory that come before the device's kind.</summary>
    private static void Validate(Device device, int rank, int size)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, size);
    }

    private static void RequireCuda(Device device, string parameter, string? name = null)
    {
        if (device.Kind != DeviceKind.Cuda || device.Accelerator is not CudaAccelerator)
            throw new ArgumentException(
                $"NCCL needs CUDA devices, but {name ?? parameter} is {device}; use InProcessGroup for CPU devices.", parameter);
    }

    /// <inheritdoc/>
    public override bool IsDisposed => _disposed;

    /// <summary>The NCCL version the group runs on (ncclGetVersion).</summary>
    public Version NcclVersion => _nccl.Version;

    /// <summary>The stream NCCL's transfers run on (non-blocking; ordered against the device's current stream with events).</summary>
    internal CudaStream CommunicationStream => _stream;

    /// <inheritdoc/>
    internal override IRingTransfer StartRingShift(IReadOnlyList<DeviceTensor> send, IReadOnlyList<DeviceTensor> receive)
    {
        ThrowIfDisposed();
        var pairs = CheckPairs(send, receive);
        var compute = _accelerator.Stream;
        _accelerator.MakeCurrent();

        if (Size == 1)
        {
            // Sending to oneself: a copy in order with the compute stream needs no transport and no waiting.
            foreach (var (from, to, bytes, _, _) in pairs)
                if (bytes > 0)
                    CudaApi.Check(CudaApi.cuMemcpyDtoDAsync((ulong)to, (ulong)from, (nuint)bytes, compute.Handle), "cuMemcpyDtoDAsync_v2");
            return CompletedRingTransfer.Instance;
        }

        // The sends must see the finished compute, and the receives must not overwrite what compute still reads.
        _computeReady.Record(compute);
        _stream.WaitFor(_computeReady);
        var streamHandle = _stream.Handle;
        Fail(_nccl.ncclGroupStart(), "ncclGroupStart");
        NcclResult result = NcclResult.Success;
        string call = "";
        foreach (var (from, to, _, count, type) in pairs)
        {
            result = _nccl.ncclSend((void*)from, (nuint)count, type, Next, _comm, streamHandle);
            if (result != NcclResult.Success) { call = "ncclSend"; break; }
            result = _nccl.ncclRecv((void*)to, (nuint)count, type, Previous, _comm, streamHandle);
            if (result != NcclResult.Success) { call = "ncclRecv"; break; }
        }
        var end = _nccl.ncclGroupEnd(); // closes the group even after a failed call
        Fail(result, call);
        Fail(end, "ncclGroupEnd");

        var done = RentEvent();
        done.Record(_stream);
        return new NcclRingTransfer(this, done);
    }

    /// <summary>Checks the ring shift's tensors pairwise and describes each pair.</summary>
    private List<Pair> CheckPairs(
        IReadOnlyList<DeviceTensor> send, IReadOnlyList<DeviceTensor> receive)
    {
        TransferChecks.CheckPairs(this, send, receive);
        var pairs = new List<Pair>(send.Count);
        for (int i = 0; i < send.Count; i++)
        {
            var (from, to) = (send[i], receive[i]);
            pairs.Add(new Pair(AddressOf(from), AddressOf(to), from.SizeInBytes, from.Length, NcclDataTypes.Of(from.DType)));
        }
        // A receive may overlap nothing else: it is written while the sends are read.
        for (int i = 0; i < pairs.Count; i++)
        {
            for (int j = 0; j < pairs.Count; j++)
            {
                if (Overlap(pairs[i].To, pairs[i].Bytes, pairs[j].From, pairs[j].Bytes))
                    throw new ArgumentException($"receive[{i}] overlaps send[{j}].", nameof(receive));
                if (j < i && Overlap(pairs[i].To, pairs[i].Bytes, pairs[j].To, pairs[j].Bytes))
                    throw new ArgumentException($"receive[{i}] overlaps receive[{j}].", nameof(receive));
            }
        }
        return pairs;
    }

    /// <summary>One send/receive pair of a ring shift: addresses, bytes, elements and NCCL element type.</summary>
    private readonly record struct Pair(nint From, nint To, long Bytes, long Count, NcclDataType Type);

    private static bool Overlap(nint a, long aBytes, nint b, long bBytes)
        => aBytes > 0 && bBytes > 0 && (ulong)a < (ulong)b + (ulong)bBytes && (ulong)b < (ulong)a + (ulong)aBytes;

    /// <summary>The device address of <paramref name="tensor"/>'s first element.</summary>
    /// <exception cref="ObjectDisposedException">The tensor was disposed.</exception>
    private static nint AddressOf(DeviceTensor tensor) => tensor switch
    {
        DeviceTensor<float> t => t.Address,
        DeviceTensor<Half> t => t.Address,
        DeviceTensor<BFloat16> t => t.Address,
        DeviceTensor<int> t => t.Address,
        _ => throw new NotSupportedException($"{tensor.GetType().Name} is not a tensor type NCCL can transfer."),
    };

    /// <inheritdoc/>
    internal override long[][] AllGather(ReadOnlySpan<long> values)
    {
        ThrowIfDisposed();
        int count = values.Length;
        var gathered = new long[Size][];
        if (Size == 1)
        {
            gathered[0] = values.ToArray();
            return gathered;
        }
        if (count == 0)
        {
            // Every rank passes the same count, so every rank skips NCCL alike.
            for (int r = 0; r < Size; r++) gathered[r] = [];
            return gathered;
        }

        long bytes = (long)count * sizeof(long);
        var all = new long[checked((long)count * Size)];
        using var sendBuffer = _accelerator.Allocate<long>(count);
        using var receiveBuffer = _accelerator.Allocate<long>(all.Length);
        var sendAddress = (ulong)sendBuffer.View.Pointer;
        var receiveAddress = (ulong)receiveBuffer.View.Pointer;
        _accelerator.MakeCurrent();
        var stream = _stream.Handle;
        fixed (long* source = values)
        fixed (long* target = all)
        {
            try
            {
                CudaApi.Check(CudaApi.cuMemcpyHtoDAsync(sendAddress, source, (nuint)bytes, stream), "cuMemcpyHtoDAsync_v2");
                Fail(_nccl.ncclAllGather((void*)sendAddress, (void*)receiveAddress, (nuint)count, NcclDataType.Int64, _comm, stream),
                    "ncclAllGather");
                CudaApi.Check(CudaApi.cuMemcpyDtoHAsync(target, receiveAddress, (nuint)(bytes * Size), stream), "cuMemcpyDtoHAsync_v2");
            }
            finally
            {
                // The host arrays stay pinned until the stream is done with them, whatever failed.
                _stream.Synchronize();
            }
        }
        for (int r = 0; r < Size; r++) gathered[r] = all.AsSpan(r * count, count).ToArray();
        return gathered;
    }

    /// <summary>An ordering event from the pool (made when the pool is empty).</summary>
    private CudaEvent RentEvent()
    {
        if (_idleEvents.TryPop(out var idle)) return idle;
        var made = _accelerator.CreateEvent(timing: false);
        _events.Add(made);
        return made;
    }

    /// <summary>Makes the device's current stream wait for <paramref name="done"/>, then pools the event (a later record
    /// does not change a wait already enqueued).</summary>
    internal void FinishTransfer(CudaEvent done)
    {
        ThrowIfDisposed();
        _accelerator.Stream.WaitFor(done);
        _idleEvents.Push(done);
    }

    /// <summary>Throws <see cref="NcclException"/> for a failed call, marking the communicator for abort at disposal.</summary>
    private void Fail(NcclResult result, string call)
    {
        if (result == NcclResult.Success) return;
        _failed = true;
        _nccl.Check(result, call, _comm);
    }

    private void ThrowIfDisposed()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Device.ThrowIfDisposed();
    }

    /// <summary>
    /// Destroys the communicator (ncclCommDestroy, which waits for the group's transfers; ncclCommAbort after an NCCL
    /// failure, which does not), then the communication stream and events. Does nothing the second time. If the device
    /// was disposed first, the communicator's device resources went with it and it is not touched.
    /// </summary>
    /// <exception cref="NcclException">ncclCommDestroy failed (everything is released anyway).</exception>
    public override void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        var comm = _comm;
        _comm = 0;
        NcclResult result = NcclResult.Success;
        if (!_accelerator.IsDisposed)
        {
            _accelerator.MakeCurrent();
            result = _failed ? _nccl.ncclCommAbort(comm) : _nccl.ncclCommDestroy(comm);
            foreach (var e in _events) Release(e);
            Release(_computeReady);
            Release(_stream);
        }
        _events.Clear();
        _idleEvents.Clear();
        _nccl.Check(result, _failed ? "ncclCommAbort" : "ncclCommDestroy");
    }

    internal override void Abort() => Abandon();

    /// <summary>Releases a group whose construction of its siblings failed (<see cref="CreateAll"/>).</summary>
    private void Abandon()
    {
        _failed = true;
        try { Dispose(); }
        catch (Exception e) when (e is NcclException or CudaException) { /* already failing */ }
    }

    private static void Release(IDisposable resource)
    {
        try { resource.Dispose(); }
        catch (CudaException) { /* keep releasing */ }
    }
}
