using System.Reflection;

namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// One launch in progress on the CPU: hands out groups to slots, keeps each slot's ring of group states,
/// records the first failure and wakes every waiting thread when it happens.
/// </summary>
internal sealed class CpuLaunch : IDisposable
{
    private readonly long _totalGroups;
    private readonly ManualResetEventSlim _done = new(false);
    private long _nextGroup;
    private int _remaining;
    private Exception? _failure;
    private volatile bool _failed;

    /// <summary>Groups that run at once (each on its own threads).</summary>
    public int Slots { get; }

    public CpuLaunch(string name, LaunchConfig config, Action body, int slots, int ringSize, CpuThreadContext[] threads)
    {
        Name = name;
        Config = config;
        Body = body;
        _totalGroups = config.Grid.Size;
        _remaining = threads.Length;
        Slots = slots;
        States = new CpuGroupState[slots][];
        for (int s = 0; s < slots; s++)
        {
            States[s] = new CpuGroupState[ringSize];
            for (int r = 0; r < ringSize; r++)
            {
                States[s][r] = new CpuGroupState(this);
                States[s][r].Prepare(r, NextGroup());
            }
        }
    }

    /// <summary>Kernel name, for messages.</summary>
    public string Name { get; }

    /// <summary>The launch configuration.</summary>
    public LaunchConfig Config { get; }

    /// <summary>What every kernel thread runs.</summary>
    public Action Body { get; }

    /// <summary>Per slot, the ring of group states.</summary>
    public CpuGroupState[][] States { get; }

    /// <summary>True once any thread failed.</summary>
    public bool Failed => _failed;

    /// <summary>The first failure, if any.</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>The next group to run, or −1 when none is left (or the launch failed).</summary>
    public long NextGroup()
    {
        if (_failed) return -1;
        long group = Interlocked.Increment(ref _nextGroup) - 1;
        return group < _totalGroups ? group : -1;
    }

    /// <summary>Records <paramref name="failure"/> (the first one wins) and wakes every thread so it can unwind.</summary>
    public void Fail(Exception failure)
    {
        while (failure is TargetInvocationException { InnerException: { } inner }) failure = inner;
        if (Interlocked.CompareExchange(ref _failure, failure, null) is not null) return;
        _failed = true;
        foreach (var ring in States)
            foreach (var state in ring)
                state.Abort();
    }

    /// <summary>The loop of one worker: thread <see cref="CpuThreadContext.Linear"/> of every group of its slot.</summary>
    public void RunThread(CpuThreadContext thread, int slot)
    {
        var ring = States[slot];
        try
        {
            for (long epoch = 0; ; epoch++)
            {
                var state = ring[epoch % ring.Length];
                if (!state.Reached(epoch))
                {
                    // This thread is a whole ring ahead of the slowest one. Sleep until half the ring is free
                    // (epoch + R/2 - 1 prepared needs only epochs before this one), so each wake-up runs a
                    // batch of groups instead of one, which avoids a convoy of wake-ups per group.
                    long batchEnd = epoch + ring.Length / 2 - 1;
                    if (batchEnd > epoch) ring[batchEnd % ring.Length].WaitForEpoch(batchEnd);
                    state.WaitForEpoch(epoch);
                }
                if (state.GroupLinear < 0) break;
                thread.BeginGroup(state);
                if (!_failed)
                {
                    CpuContext.Bind(thread);
                    try
                    {
                        thread.BulkCopies.Reset();
                        thread.AsyncCopies.Reset();
                        Body();
                        // the group's shared memory goes with it: a bulk copy still reading it is a kernel bug
                        if (!thread.BulkCopies.Drained)
                            throw new InvalidOperationException($"Kernel '{Name}' returned with bulk copies not waited for (BulkCopy.Wait).");
                    }
                    catch (LaunchAbortedException)
                    {
                    }
                    catch (Exception e)
                    {
                        Fail(e);
                    }
                    finally
                    {
                        CpuContext.Bind(null);
                    }
                }
                thread.BeginGroup(null);
                if (state.Exit(thread))
                    state.Prepare(epoch + ring.Length, NextGroup());
            }
        }
        catch (Exception e)
        {
            Fail(new InvalidOperationException($"Kernel {Name}: internal error of the CPU runtime.", e));
        }
    }

    /// <summary>Called by each worker when it left <see cref="RunThread"/>.</summary>
    public void ThreadDone()
    {
        if (Interlocked.Decrement(ref _remaining) == 0) _done.Set();
    }

    /// <summary>Waits until every worker is done.</summary>
    public void Wait() => _done.Wait();

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var ring in States)
            foreach (var state in ring)
                state.Dispose();
        _done.Dispose();
    }
}
