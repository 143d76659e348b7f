namespace FlashAttn.Bench.Timing;

/// <summary>The median of a sample: robust to the odd slow run (clock ramp, another process).</summary>
internal static class Median
{
    /// <summary>The middle value (the mean of the two middle values for an even count).</summary>
    /// <exception cref="ArgumentException"><paramref name="values"/> is empty.</exception>
    public static double Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no values.", nameof(values));
        var sorted = values.Order().ToArray();
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
