using FlashAttn.Bench.Cli;
using FlashAttn.Bench.Results;

namespace FlashAttn.Bench.Plot;

/// <summary>
/// The <c>plot</c> and <c>report</c> verbs over results files (ours from <c>sweep</c>, PyTorch's in the shared schema
/// or its flat reference file). <c>plot</c> writes one SVG of TFLOP/s against sequence length per (dtype, d, mask,
/// pass), with a line per backend, and report.md (the comparison tables with the charts); <c>report</c> writes the
/// tables only.
/// </summary>
internal static class PlotCommand
{
    /// <summary>The plot verb's usage line.</summary>
    public const string PlotUsage = "plot --ours FILE[,FILE..] [--torch FILE[,FILE..]] --out DIR [--y-scale linear|log]";

    /// <summary>The report verb's usage line.</summary>
    public const string ReportUsage = "report --ours FILE[,FILE..] [--torch FILE[,FILE..]] [--md FILE]";

    /// <summary>The parsed options of either verb.</summary>
    private sealed record Options(IReadOnlyList<string> Ours, IReadOnlyList<string> Torch, string? Out, bool LogY, string? Markdown);

    /// <summary>Runs <c>plot</c>. Exit code 0, 2 for bad options or unreadable files.</summary>
    public static int Plot(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (!VerbArguments.TryParse(args, ["--ours", "--torch", "--out", "--y-scale"], null, ParsePlot, PlotUsage, error, out var options)
            || Load(options, error) is not { } results)
            return 2;
        Directory.CreateDirectory(options.Out!);
        foreach (var group in results.Groups())
        {
            File.WriteAllText(Path.Combine(options.Out!, group.FileName), Chart(results, group, options.LogY));
            output.WriteLine(Path.Combine(options.Out!, group.FileName));
        }
        string report = Path.Combine(options.Out!, "report.md");
        File.WriteAllText(report, ComparisonReport.Markdown(results, images: true));
        output.WriteLine(report);
        return 0;
    }

    /// <summary>Runs <c>report</c>: the tables on stdout and in --md. Exit code 0, 2 for bad options or unreadable files.</summary>
    public static int Report(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (!VerbArguments.TryParse(args, ["--ours", "--torch", "--md"], null, ParseReport, ReportUsage, error, out var options)
            || Load(options, error) is not { } results)
            return 2;
        string markdown = ComparisonReport.Markdown(results);
        output.Write(markdown);
        if (options.Markdown is { } path) File.WriteAllText(path, markdown);
        return 0;
    }

    /// <summary>The SVG of <paramref name="group"/>: a series per backend over its timed sequence lengths.</summary>
    public static string Chart(ResultSet results, ChartGroup group, bool logY)
    {
        var series = new List<ChartSeries>();
        foreach (string backend in results.BackendsIn(group))
        {
            var points = results.SeqLens(group)
                .Select(s => (X: (double)s, Y: results.Find(backend, group.At(s))?.Tflops))
                .Where(p => p.Y is > 0)
                .Select(p => (p.X, p.Y!.Value))
                .ToList();
            if (points.Count > 0)
                series.Add(new ChartSeries(backend == Backends.FlashAttn ? "flashattn (ours)" : backend, ChartSeries.ColorOf(backend),
                    backend == Backends.FlashAttn, points));
        }
        var xs = series.SelectMany(s => s.Points).Select(p => p.X).DefaultIfEmpty(1).ToList();
        var ys = series.SelectMany(s => s.Points).Select(p => p.Y).ToList();
        IChartAxis y = logY ? new LogAxis(10, ys) : new LinearAxis(ys);
        return SvgChart.Render(group.Title, "sequence length (log₂ scale)", logY ? "TFLOP/s (log scale)" : "TFLOP/s",
            new LogAxis(2, xs), y, series);
    }

    private static Options ParsePlot(VerbArguments line)
        => new(Files(line, "--ours", required: true), Files(line, "--torch", required: false),
            line.Value("--out") ?? throw new FormatException("--out DIR is required."),
            line.Choice("--y-scale", "linear", "linear", "log") == "log", null);

    private static Options ParseReport(VerbArguments line)
        => new(Files(line, "--ours", required: true), Files(line, "--torch", required: false), null, false, line.Value("--md"));

    private static IReadOnlyList<string> Files(VerbArguments line, string name, bool required)
    {
        var files = line.List(name, []);
        if (required && files.Count == 0) throw new FormatException($"{name} FILE is required.");
        return files;
    }

    private static ResultSet? Load(Options options, TextWriter error)
    {
        try
        {
            return new ResultSet([.. options.Ours.Concat(options.Torch).Select(ResultsFile.Read)]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or System.Text.Json.JsonException)
        {
            error.WriteLine($"cannot read the results: {e.Message}");
            return null;
        }
    }
}
