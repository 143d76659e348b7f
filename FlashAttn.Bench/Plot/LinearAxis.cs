using System.Globalization;

namespace FlashAttn.Bench.Plot;

/// <summary>A linear axis from 0 to a round number at or above the largest value, ticks at a 1-2-5 step (about five of them).</summary>
internal sealed class LinearAxis : IChartAxis
{
    /// <summary>About how many intervals the ticks cut the axis into.</summary>
    private const int TargetIntervals = 5;

    private readonly double _max;

    /// <summary>An axis from 0 covering <paramref name="values"/> (1 when there are none or none is positive).</summary>
    public LinearAxis(IEnumerable<double> values)
    {
        double largest = values.DefaultIfEmpty(0).Max();
        double step = NiceStep(largest > 0 ? largest / TargetIntervals : 0.2);
        _max = Math.Ceiling(largest / step - 1e-9) * step;
        if (_max <= 0) _max = step;
        var ticks = new List<(double, string)>();
        for (int i = 0; i * step <= _max * (1 + 1e-9); i++)
            ticks.Add((i * step, (i * step).ToString("0.###", CultureInfo.InvariantCulture)));
        Ticks = ticks;
    }

    /// <inheritdoc/>
    public IReadOnlyList<(double Value, string Label)> Ticks { get; }

    /// <inheritdoc/>
    public double Fraction(double value) => value / _max;

    /// <summary>The smallest 1, 2 or 5 × 10ᵏ at or above <paramref name="rough"/>.</summary>
    public static double NiceStep(double rough)
    {
        double power = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        foreach (double multiple in new[] { 1.0, 2.0, 5.0, 10.0 })
            if (multiple * power >= rough * (1 - 1e-9)) return multiple * power;
        return 10 * power;
    }
}
