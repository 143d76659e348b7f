namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// Blocks one OS thread until another signals it. A signal given while the thread is not parked is kept
/// for its next <see cref="Park"/>, so callers always park in a loop that rechecks their condition
/// (spurious returns are harmless).
/// </summary>
internal sealed class CpuParker
{
    private readonly object _lock = new();
    private bool _signaled;

    /// <summary>Waits until signaled (or returns at once if a signal is pending), consuming the signal.</summary>
    public void Park()
    {
        lock (_lock)
        {
            while (!_signaled) Monitor.Wait(_lock);
            _signaled = false;
        }
    }

    /// <summary>Signals the parked (or next parking) thread.</summary>
    public void Unpark()
    {
        lock (_lock)
        {
            _signaled = true;
            Monitor.Pulse(_lock);
        }
    }
}
