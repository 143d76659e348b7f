using System.Globalization;

namespace FlashAttn.Bench.Plot;

/// <summary>
/// A logarithmic axis from the power of <see cref="Base"/> at or below the smallest value to the one at or above the
/// largest, a tick at every power: base 2 for sequence lengths (512, 1k, 2k, …), base 10 for TFLOP/s that span
/// decades.
/// </summary>
internal sealed class LogAxis : IChartAxis
{
    private readonly double _lowExponent;
    private readonly double _highExponent;

    /// <summary>An axis covering <paramref name="values"/> (positive ones; 1 when there are none).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="logBase"/> is not greater than 1.</exception>
    public LogAxis(double logBase, IEnumerable<double> values)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(logBase, 1);
        Base = logBase;
        var positive = values.Where(v => v > 0).DefaultIfEmpty(1).ToArray();
        // Rounding guards exact powers against log's last-bit error (log2(8192) must be 13, not 13.000000000000002).
        _lowExponent = Math.Floor(Math.Round(Math.Log(positive.Min(), logBase), 9));
        _highExponent = Math.Ceiling(Math.Round(Math.Log(positive.Max(), logBase), 9));
        if (_highExponent == _lowExponent) _highExponent++;
        var ticks = new List<(double, string)>();
        for (double e = _lowExponent; e <= _highExponent; e++) ticks.Add((Math.Pow(logBase, e), Label(Math.Pow(logBase, e))));
        Ticks = ticks;
    }

    /// <summary>The logarithm's base.</summary>
    public double Base { get; }

    /// <inheritdoc/>
    public IReadOnlyList<(double Value, string Label)> Ticks { get; }

    /// <inheritdoc/>
    public double Fraction(double value) => (Math.Log(value, Base) - _lowExponent) / (_highExponent - _lowExponent);

    /// <summary>Whole multiples of 1024 as "1k", "16k"; others as they are.</summary>
    public static string Label(double value)
        => value >= 1024 && value % 1024 == 0
            ? (value / 1024).ToString("0", CultureInfo.InvariantCulture) + "k"
            : value.ToString("0.###", CultureInfo.InvariantCulture);
}
