using System.Runtime.ExceptionServices;

namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// Runs a launch on the CPU: every group's threads run concurrently on real OS threads (pooled
/// <see cref="CpuWorker"/>s), so barriers, shared memory and warp shuffles behave as on a GPU. A few
/// groups run at once (bounded so that at most about <see cref="MaxThreadsInFlight"/> threads are busy);
/// each thread binds its <see cref="CpuContext"/> and runs the caller's body, which serves both the
/// managed kernels (<see cref="CpuKernel"/>) and the IR interpreter.
/// </summary>
internal static class CpuGroupExecutor
{
    /// <summary>Shared memory per group, static plus dynamic (H100's opt-in 227 KB).</summary>
    public const int MaxSharedBytes = 232448;

    /// <summary>Most group threads in flight at once (more when one group is larger).</summary>
    public const int MaxThreadsInFlight = 512;

    /// <summary>Group states per slot: how many groups a fast thread may run ahead of the slowest one.</summary>
    private const int RingSize = 8;

    /// <summary>
    /// Runs <paramref name="body"/> once per thread of every group of <paramref name="config"/> and returns
    /// when all are done. The first exception of any thread is rethrown (TargetInvocationException
    /// unwrapped); barrier misuse throws <see cref="InvalidOperationException"/>.
    /// </summary>
    public static void Launch(LaunchConfig config, Action body, string kernelName)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (config.Grid.X < 1 || config.Grid.Y < 1 || config.Grid.Z < 1)
            throw new ArgumentException($"Grid {config.Grid} must be at least 1 in every dimension.", nameof(config));
        if (config.Group.X < 1 || config.Group.Y < 1 || config.Group.Z < 1 || config.Group.Size > 1024)
            throw new ArgumentException($"Group {config.Group} must be at least 1 in every dimension and at most 1024 threads.", nameof(config));
        if (config.DynamicSharedBytes < 0 || config.DynamicSharedBytes > MaxSharedBytes)
            throw new ArgumentException($"Dynamic shared memory {config.DynamicSharedBytes} bytes is outside [0, {MaxSharedBytes}].", nameof(config));

        int groupSize = (int)config.Group.Size;
        long groups = config.Grid.Size;
        int slots = (int)Math.Min(groups, Math.Max(1, Math.Min(Environment.ProcessorCount, MaxThreadsInFlight / groupSize)));
        int ring = (int)Math.Min(RingSize, (groups + slots - 1) / slots);

        var workers = new CpuWorker[slots * groupSize];
        for (int i = 0; i < workers.Length; i++) workers[i] = CpuWorker.Rent();
        var launch = new CpuLaunch(kernelName, config, body, slots, ring, [.. workers.Select(w => w.Context)]);
        try
        {
            for (int i = 0; i < workers.Length; i++)
            {
                var context = workers[i].Context;
                int slot = i / groupSize;
                context.Assign(launch, i % groupSize);
                workers[i].Start(() => launch.RunThread(context, slot), () =>
                {
                    launch.ThreadDone();
                });
            }
            launch.Wait();
        }
        finally
        {
            launch.Dispose();
        }
        if (launch.Failure is { } failure) ExceptionDispatchInfo.Throw(failure);
    }
}
