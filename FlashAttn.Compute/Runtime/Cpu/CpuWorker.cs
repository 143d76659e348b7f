using System.Collections.Concurrent;

namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// A dedicated background OS thread that runs kernel threads for launches. Workers are pooled for the
/// life of the process: a launch rents as many as it has group threads in flight and they return
/// themselves when their part of the launch is done.
/// </summary>
internal sealed class CpuWorker
{
    private static readonly ConcurrentStack<CpuWorker> s_idle = new();
    private static int s_created;

    private (Action Work, Action Done)? _job;
    private readonly object _jobLock = new();

    private CpuWorker()
    {
        Context = new CpuThreadContext(new CpuParker(), new CpuLocalArena());
        int number = Interlocked.Increment(ref s_created);
        var thread = new Thread(Loop) { IsBackground = true, Name = $"FlashAttn CPU worker {number}" };
        thread.Start();
    }

    /// <summary>Number of worker threads created so far.</summary>
    public static int Created => Volatile.Read(ref s_created);

    /// <summary>The worker's kernel-thread context.</summary>
    public CpuThreadContext Context { get; }

    /// <summary>An idle worker, or a new one.</summary>
    public static CpuWorker Rent() => s_idle.TryPop(out var worker) ? worker : new CpuWorker();

    /// <summary>Runs <paramref name="work"/> on the worker; it returns to the pool, then calls <paramref name="done"/>.</summary>
    public void Start(Action work, Action done)
    {
        lock (_jobLock) _job = (work, done);
        Context.Parker.Unpark();
    }

    private void Loop()
    {
        while (true)
        {
            (Action Work, Action Done) job;
            while (true)
            {
                lock (_jobLock)
                {
                    if (_job is { } j)
                    {
                        job = j;
                        _job = null;
                        break;
                    }
                }
                Context.Parker.Park();
            }
            try
            {
                job.Work();
            }
            finally
            {
                s_idle.Push(this);
                job.Done();
            }
        }
    }
}
