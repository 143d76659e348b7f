namespace FlashAttn.Bench.Timing;

/// <summary>Times each of a series of launches on one device.</summary>
internal interface ILaunchTimer : IDisposable
{
    /// <summary>How the device's clock is read, for the results' notes.</summary>
    string Method { get; }

    /// <summary>Milliseconds of each of <paramref name="runs"/> calls of <paramref name="launch"/> (given the run's index).</summary>
    double[] TimeEach(int runs, Action<int> launch);
}
