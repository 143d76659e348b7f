using FlashAttn.Compute.Runtime.Cuda;
using FlashAttn.Distributed;

namespace FlashAttn.Bench.Ring;

/// <summary>
/// The ranks of the benchmark: the GPUs opened and each rank's device; makes a group over them for each measurement
/// (<see cref="WithGroups"/>). Once a rank hangs (<see cref="RankFailure.Hung"/>), nothing is touched again
/// (<see cref="Stuck"/>): releasing a GPU or an NCCL communicator with work stuck on it would block the process.
/// </summary>
internal sealed class RingRanks : IDisposable
{
    private readonly Device[] _gpus;
    private readonly bool _nccl;

    private RingRanks(Device[] gpus, Device[] rankDevices, bool nccl)
    {
        _gpus = gpus;
        RankDevices = rankDevices;
        _nccl = nccl;
    }

    /// <summary>The GPUs opened (distinct), GPU 0 first.</summary>
    public IReadOnlyList<Device> Gpus => _gpus;

    /// <summary>Rank r's device: GPU r with NCCL; GPU r mod (GPU count) in process.</summary>
    public IReadOnlyList<Device> RankDevices { get; }

    /// <summary>The number of ranks.</summary>
    public int Count => RankDevices.Count;

    /// <summary>The NCCL version of the first group made, or null (in process, or none made yet).</summary>
    public string? NcclVersion { get; private set; }

    /// <summary>True once a rank hung: the GPUs and groups are left as they are.</summary>
    public bool Stuck { get; private set; }

    /// <summary>Opens <paramref name="ranks"/> ranks over the first min(ranks, <paramref name="gpuCount"/>) GPUs.</summary>
    public static RingRanks Open(int ranks, int gpuCount, bool nccl)
    {
        var gpus = new List<Device>();
        try
        {
            for (int i = 0; i < Math.Min(ranks, gpuCount); i++) gpus.Add(Device.Cuda(i));
        }
        catch
        {
            foreach (var gpu in gpus) gpu.Dispose();
            throw;
        }
        return new RingRanks([.. gpus], [.. Enumerable.Range(0, ranks).Select(r => gpus[r % gpus.Count])], nccl);
    }

    /// <summary>
    /// Runs <paramref name="measure"/> with a new group of every rank (ncclCommInitAll, or an in-process hub), then
    /// releases the group and the GPUs' cached workspaces, unless a rank hung.
    /// </summary>
    /// <exception cref="RankFailure">A rank failed or hung (then <see cref="Stuck"/>).</exception>
    public TResult WithGroups<TResult>(Func<ProcessGroup[], TResult> measure, TextWriter progress)
    {
        ObjectDisposedException.ThrowIf(Stuck, this);
        ProcessGroup[] groups = _nccl ? NcclProcessGroup.CreateAll(RankDevices) : InProcessGroup.Create(RankDevices);
        if (groups[0] is NcclProcessGroup nccl) NcclVersion ??= nccl.NcclVersion.ToString();
        try
        {
            return measure(groups);
        }
        catch (RankFailure failure) when (failure.Hung.Count > 0)
        {
            Stuck = true;
            throw;
        }
        finally
        {
            if (!Stuck)
            {
                foreach (var group in groups)
                {
                    try { group.Dispose(); }
                    catch (Exception e) when (e is NcclException or CudaException)
                    {
                        progress.WriteLine($"  {group}: closing failed: {e.Message}");
                    }
                }
                ReleaseCachedMemory();
            }
        }
    }

    /// <summary>Runs <paramref name="body"/> on every rank of <paramref name="groups"/> at once, a thread each, with the ranks' barrier.</summary>
    /// <exception cref="RankFailure">A rank threw or hung.</exception>
    public static TResult[] OnEveryRank<TResult>(ProcessGroup[] groups, Func<ProcessGroup, RankBarrier, TResult> body)
        => RankThreads.Run(groups.Length, (rank, barrier) => body(groups[rank], barrier));

    /// <summary>Waits for every GPU and frees the idle workspaces the backward keeps between calls.</summary>
    public void ReleaseCachedMemory()
    {
        if (Stuck) return;
        foreach (var gpu in _gpus) gpu.ReleaseCachedMemory();
    }

    /// <summary>Releases the GPUs (nothing once <see cref="Stuck"/>).</summary>
    public void Dispose()
    {
        if (Stuck) return;
        foreach (var gpu in _gpus) gpu.Dispose();
    }
}
