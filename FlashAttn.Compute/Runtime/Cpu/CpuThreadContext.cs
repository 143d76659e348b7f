namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// The <see cref="CpuContext"/> of one worker thread: its place in the current launch and group, and the
/// group operations routed to the group's <see cref="CpuGroupState"/>.
/// </summary>
internal sealed class CpuThreadContext(CpuParker parker, CpuLocalArena arena) : CpuContext
{
    private CpuLaunch? _launch;
    private CpuGroupState? _state;
    private Dim3 _threadIndex;

    /// <summary>Blocks this worker in barriers and between launches.</summary>
    public CpuParker Parker { get; } = parker;

    /// <summary>The worker's local memory.</summary>
    public CpuLocalArena Arena { get; } = arena;

    /// <summary>Linear index of the thread in its group: x + DimX·(y + DimY·z).</summary>
    public int Linear { get; private set; }

    /// <summary>Warp of the thread in its group.</summary>
    public int Warp { get; private set; }

    /// <summary>Static shared allocations made so far by this thread in the current group.</summary>
    public int SharedCalls { get; set; }

    private CpuLaunch Launch => _launch ?? throw new InvalidOperationException("The CPU thread is not part of a launch.");
    private CpuGroupState State => _state ?? throw new InvalidOperationException("The CPU thread is not running a group.");

    /// <summary>Makes this worker thread <paramref name="linear"/> of every group it runs in <paramref name="launch"/>.</summary>
    public void Assign(CpuLaunch? launch, int linear)
    {
        _launch = launch;
        _state = null;
        Linear = linear;
        Warp = linear / 32;
        if (launch is not null)
        {
            var dim = launch.Config.Group;
            _threadIndex = new Dim3(linear % dim.X, linear / dim.X % dim.Y, linear / (dim.X * dim.Y));
        }
    }

    /// <summary>Starts running one group's body: resets local memory and the shared-allocation counter.</summary>
    public void BeginGroup(CpuGroupState? state)
    {
        _state = state;
        SharedCalls = 0;
        Arena.Reset();
    }

    /// <inheritdoc/>
    public override Dim3 ThreadIndex => _threadIndex;
    /// <inheritdoc/>
    public override Dim3 GroupIndex => State.GroupIndex;
    /// <inheritdoc/>
    public override Dim3 GroupDim => Launch.Config.Group;
    /// <inheritdoc/>
    public override Dim3 GridDim => Launch.Config.Grid;
    /// <inheritdoc/>
    public override int LaneIndex => Linear & 31;

    /// <inheritdoc/>
    public override void Barrier() => State.Arrive(this, State.GroupBarrier, 0);

    /// <inheritdoc/>
    public override int BarrierReduce(int value, BarrierReduction reduction)
    {
        var state = State;
        int count = state.Arrive(this, state.GroupBarrier, value);
        return reduction switch
        {
            BarrierReduction.Count => count,
            BarrierReduction.And => count == state.Size ? 1 : 0,
            BarrierReduction.Or => count > 0 ? 1 : 0,
            _ => throw new ArgumentOutOfRangeException(nameof(reduction), reduction, null),
        };
    }

    /// <inheritdoc/>
    public override void WarpBarrier() => State.Arrive(this, State.Warps[Warp], 0);

    /// <summary>
    /// Each lane writes its payload into the warp's exchange slots of the current barrier generation,
    /// waits for the warp, then reads the source lane's slot. Slots alternate by generation parity, so
    /// one warp barrier per shuffle suffices. In a partial last warp (group size not a multiple of 32),
    /// a source lane that does not exist yields the caller's own value, as an out-of-range lane does.
    /// </summary>
    public override int Shuffle(int value, int laneOrDelta, ShuffleMode mode)
    {
        var state = State;
        var warp = state.Warps[Warp];
        int lane = Linear & 31;
        int[] slots = warp.Exchange[warp.Generation & 1];
        slots[lane] = value;
        state.Arrive(this, warp, 0);
        int source = mode switch
        {
            ShuffleMode.Index => laneOrDelta & 31,
            ShuffleMode.Xor => lane ^ (laneOrDelta & 31),
            ShuffleMode.Up => lane - laneOrDelta,
            ShuffleMode.Down => lane + laneOrDelta,
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
        };
        return source >= 0 && source < warp.Expected ? slots[source] : value;
    }

    /// <summary>Each lane writes its value into the warp's exchange slots (as <see cref="Shuffle"/>), waits for the warp, then
    /// combines the slots of the lanes that exist (a partial last warp has fewer).</summary>
    public override int WarpReduce(int value, WarpReduction reduction)
    {
        var state = State;
        var warp = state.Warps[Warp];
        int[] slots = warp.Exchange[warp.Generation & 1];
        slots[Linear & 31] = value;
        state.Arrive(this, warp, 0);
        int result = slots[0];
        for (int lane = 1; lane < warp.Expected; lane++)
            result = reduction switch
            {
                WarpReduction.Add => unchecked(result + slots[lane]),
                WarpReduction.Min => Math.Min(result, slots[lane]),
                WarpReduction.Max => Math.Max(result, slots[lane]),
                WarpReduction.Or => result | slots[lane],
                _ => throw new ArgumentOutOfRangeException(nameof(reduction), reduction, null),
            };
        return result;
    }

    /// <inheritdoc/>
    public override int[] WarpExchange(ReadOnlySpan<int> words)
    {
        if (words.Length > CpuBarrierPoint.WideExchangeWords)
            throw new ArgumentOutOfRangeException(nameof(words), words.Length, $"A lane exchanges at most {CpuBarrierPoint.WideExchangeWords} words.");
        var state = State;
        var warp = state.Warps[Warp];
        int[] slots = warp.WideExchange[warp.Generation & 1];
        words.CopyTo(slots.AsSpan((Linear & 31) * CpuBarrierPoint.WideExchangeWords));
        state.Arrive(this, warp, 0);
        return slots;
    }

    /// <inheritdoc/>
    public override nint AllocateShared(int bytes, int alignment) => State.AllocateShared(this, bytes, alignment);
    /// <inheritdoc/>
    public override nint DynamicShared => State.DynamicShared;
    /// <inheritdoc/>
    public override int DynamicSharedBytes => Launch.Config.DynamicSharedBytes;
    /// <inheritdoc/>
    public override nint AllocateLocal(int bytes, int alignment) => Arena.Allocate(bytes, alignment);
}
