using System.Globalization;
using System.Text;
using FlashAttn.Bench.Results;

namespace FlashAttn.Bench.Plot;

/// <summary>
/// Markdown tables of ours against PyTorch: per chart group, a row per sequence length with our TFLOP/s, each other
/// backend's, and the ratios ours / theirs (the inverse ratio of times, since both count the same FLOPs), the last
/// against the fastest of them.
/// </summary>
internal static class ComparisonReport
{
    /// <summary>The report for every group where ours has rows; <paramref name="images"/> adds each group's chart.</summary>
    public static string Markdown(ResultSet results, bool images = false)
    {
        var text = new StringBuilder("# FlashAttn against PyTorch\n\nSources:\n\n");
        foreach (var source in results.Sources)
            text.Append($"- {source.Device}, {source.Driver}, commit {source.Commit}, {source.Date}: `{source.Command}`\n");
        text.Append("\nTFLOP/s; ratio = ours / theirs (> 1: ours is faster); n/a = the backend failed or does not support the configuration (the JSON says which); " +
            "— = not measured.\n");
        foreach (var group in results.Groups(Backends.FlashAttn))
        {
            var others = results.BackendsIn(group).Where(b => b != Backends.FlashAttn).ToList();
            var headers = new List<string> { "seqlen", "ours" };
            headers.AddRange(others);
            headers.AddRange(others.Select(b => $"ours / {b}"));
            if (others.Count > 1) headers.Add("ours / best");
            var table = new MarkdownTable(headers, labelColumns: 1);
            foreach (int seqLen in results.SeqLens(group))
            {
                var key = group.At(seqLen);
                double? ours = results.Find(Backends.FlashAttn, key)?.Tflops;
                var theirs = others.Select(b => results.Find(b, key)).ToList();
                var cells = new List<string> { seqLen.ToString(CultureInfo.InvariantCulture), Tflops(results.Find(Backends.FlashAttn, key)) };
                cells.AddRange(theirs.Select(Tflops));
                cells.AddRange(theirs.Select(t => Ratio(ours, t?.Tflops)));
                if (others.Count > 1) cells.Add(Ratio(ours, theirs.Max(t => t?.Tflops)));
                table.AddRow(cells);
            }
            text.Append($"\n## {group.Title}\n\n");
            if (images) text.Append($"![{group.Title}]({group.FileName})\n\n");
            text.Append(table);
        }
        return text.ToString();
    }

    /// <summary>ours / theirs as "0.25×"; "—" when either is missing.</summary>
    public static string Ratio(double? ours, double? theirs)
        => ours is { } o && theirs is { } t && t > 0 ? (o / t).ToString("0.00", CultureInfo.InvariantCulture) + "×" : "—";

    private static string Tflops(BenchResult? result) => result switch
    {
        { Tflops: { } t } => t.ToString("0.0", CultureInfo.InvariantCulture),
        { Error: not null } when result.Backend != Backends.FlashAttn => "n/a",
        { Error: not null } => "error",
        _ => "—",
    };
}
