using System.Diagnostics;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Bench.Timing;

/// <summary>Wall-clock time of each launch, synchronizing before and after: for devices without events (the CPU).</summary>
internal sealed class StopwatchTimer(Accelerator accelerator) : ILaunchTimer
{
    /// <inheritdoc/>
    public string Method => "Stopwatch around each synchronized launch";

    /// <inheritdoc/>
    public double[] TimeEach(int runs, Action<int> launch)
    {
        var times = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            accelerator.Synchronize();
            long start = Stopwatch.GetTimestamp();
            launch(i);
            accelerator.Synchronize();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        return times;
    }

    /// <inheritdoc/>
    public void Dispose() { }
}
