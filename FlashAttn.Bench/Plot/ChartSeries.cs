namespace FlashAttn.Bench.Plot;

/// <summary>One line of a chart: a backend's TFLOP/s over sequence lengths.</summary>
/// <param name="Name">Legend text (the backend).</param>
/// <param name="Color">SVG colour.</param>
/// <param name="Emphasized">Drawn thicker (ours).</param>
/// <param name="Points">(x, y) in data units, in x order.</param>
internal sealed record ChartSeries(string Name, string Color, bool Emphasized, IReadOnlyList<(double X, double Y)> Points)
{
    /// <summary>The fixed colour of each backend, so every chart reads the same; grey for an unknown one.</summary>
    public static string ColorOf(string backend) => backend switch
    {
        Results.Backends.FlashAttn => "#d62728",
        "flash" => "#1f77b4",
        "cudnn" => "#2ca02c",
        "mem_efficient" => "#ff7f0e",
        "math" => "#9467bd",
        "naive" => "#7f7f7f",
        _ => "#17becf",
    };
}
