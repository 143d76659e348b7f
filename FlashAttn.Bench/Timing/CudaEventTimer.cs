using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Bench.Timing;

/// <summary>
/// CUDA events between consecutive launches: event i is recorded before launch i and after launch i − 1, so the
/// launches go back to back (the host enqueues the next while the device runs the current) and each gets its own
/// device time; one synchronization at the end.
/// </summary>
internal sealed class CudaEventTimer(CudaAccelerator cuda) : ILaunchTimer
{
    private readonly List<CudaEvent> _events = [];

    /// <inheritdoc/>
    public string Method => "CUDA events (cuEventRecord/cuEventElapsedTime) between back-to-back launches";

    /// <inheritdoc/>
    public double[] TimeEach(int runs, Action<int> launch)
    {
        while (_events.Count < runs + 1) _events.Add(cuda.CreateEvent());
        _events[0].Record();
        for (int i = 0; i < runs; i++)
        {
            launch(i);
            _events[i + 1].Record();
        }
        _events[runs].Synchronize();
        var times = new double[runs];
        for (int i = 0; i < runs; i++) times[i] = CudaEvent.ElapsedMilliseconds(_events[i], _events[i + 1]);
        return times;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var e in _events) e.Dispose();
        _events.Clear();
    }
}
