namespace FlashAttn.Bench.Plot;

/// <summary>Maps data values onto a chart axis and says where its ticks go.</summary>
internal interface IChartAxis
{
    /// <summary>Where <paramref name="value"/> lies along the axis: 0 at the start, 1 at the end.</summary>
    double Fraction(double value);

    /// <summary>Tick values with their labels, in increasing order.</summary>
    IReadOnlyList<(double Value, string Label)> Ticks { get; }
}
