using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Bench.Memory;

/// <summary>
/// Polls the driver's free device memory (cuMemGetInfo) from a background thread about every millisecond and keeps
/// the least seen: the driver's view of a peak, including allocation granularity and anything not allocated through
/// our accelerator. Buffers that live for less than a millisecond may be missed.
/// </summary>
internal sealed class FreeMemorySampler : IDisposable
{
    private readonly CudaAccelerator _cuda;
    private readonly Thread _thread;
    private volatile bool _stop;
    private long _leastFree;

    /// <summary>Starts polling <paramref name="cuda"/>.</summary>
    public FreeMemorySampler(CudaAccelerator cuda)
    {
        _cuda = cuda;
        _leastFree = cuda.GetMemoryInfo().Free;
        _thread = new Thread(Poll) { IsBackground = true, Name = "free-memory sampler" };
        _thread.Start();
    }

    /// <summary>The least free memory seen so far.</summary>
    public long LeastFree => Interlocked.Read(ref _leastFree);

    /// <summary>Number of polls.</summary>
    public int Samples { get; private set; }

    private void Poll()
    {
        while (!_stop)
        {
            long free = _cuda.GetMemoryInfo().Free;
            if (free < Interlocked.Read(ref _leastFree)) Interlocked.Exchange(ref _leastFree, free);
            Samples++;
            Thread.Sleep(1);
        }
    }

    /// <summary>Stops polling (after one last poll).</summary>
    public void Dispose()
    {
        _stop = true;
        _thread.Join();
    }
}
