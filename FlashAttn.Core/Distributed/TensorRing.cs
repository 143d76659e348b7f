namespace FlashAttn.Distributed;

/// <summary>
/// A set of same-shaped tensors travelling around the ring (a key/value shard, or its gradient sums): each shift sends
/// <see cref="Current"/> to the next rank and receives the previous rank's set, which then becomes current. Received
/// sets alternate between two spare sets, so a set being sent is never written; the initial set is a spare too when
/// the ring owns it (never the caller's tensors).
/// </summary>
internal sealed class TensorRing<T>(ProcessGroup group, RingBuffers buffers, string role, DeviceTensor<T>[] initial, bool ownsInitial)
    where T : unmanaged
{
    private readonly DeviceTensor<T>[]?[] _spares = [null, ownsInitial ? initial : null];
    private IRingTransfer? _transfer;
    private DeviceTensor<T>[]? _incoming;
    private int _shifts;

    /// <summary>The set this rank holds now.</summary>
    public DeviceTensor<T>[] Current { get; private set; } = initial;

    /// <summary>Starts sending <see cref="Current"/> on and receiving the previous rank's set.</summary>
    public void Start()
    {
        int spare = _shifts++ % 2;
        _incoming = _spares[spare] ??= Current.Select((t, i) => buffers.Get<T>($"{role}{spare}.{i}", t.GetShape())).ToArray();
        _transfer = group.StartRingShift(Current, _incoming);
    }

    /// <summary>Waits for the shift begun by <see cref="Start"/>; the received set becomes <see cref="Current"/>.</summary>
    public void Wait()
    {
        _transfer!.Wait();
        _transfer = null;
        Current = _incoming!;
    }
}
