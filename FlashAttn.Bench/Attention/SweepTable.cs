using System.Globalization;
using System.Text;
using FlashAttn.Bench.Results;

namespace FlashAttn.Bench.Attention;

/// <summary>The sweep's markdown: one row per configuration, time and TFLOP/s per pass, peak and naive memory; then errors and notes.</summary>
internal static class SweepTable
{
    /// <summary>The markdown of <paramref name="run"/>'s rows of <paramref name="backend"/>.</summary>
    public static string Markdown(BenchRun run, string backend = Backends.FlashAttn)
    {
        var rows = run.Results.Where(r => r.Backend == backend).ToList();
        var passes = AttentionPasses.All.Where(p => rows.Any(r => r.Pass == p)).ToList();
        var headers = new List<string> { "dtype", "d", "causal", "seqlen", "b", "h" };
        foreach (var pass in passes) headers.AddRange([$"{AttentionPasses.Name(pass)} ms", $"{AttentionPasses.Name(pass)} TFLOP/s"]);
        headers.AddRange(["peak fwd", "peak fwd+bwd", "naive fwd", "naive fwd+bwd"]);
        var table = new MarkdownTable(headers, labelColumns: 3);

        foreach (var configuration in rows.GroupBy(r => (r.DType, r.HeadDim, r.Causal, r.SeqLen, r.Batch, r.Heads)))
        {
            var (dtype, headDim, causal, seqLen, batch, heads) = configuration.Key;
            var byPass = configuration.GroupBy(r => r.Pass).ToDictionary(g => g.Key, g => g.Last());
            var cells = new List<string> { DTypeNames.Of(dtype), Invariant(headDim), causal ? "yes" : "no", Invariant(seqLen), Invariant(batch), Invariant(heads) };
            foreach (var pass in passes)
            {
                var result = byPass.GetValueOrDefault(pass);
                cells.Add(result?.Ms is { } ms ? ms.ToString("F3", CultureInfo.InvariantCulture) : result?.Error is null ? "—" : "error");
                cells.Add(result?.Tflops is { } tflops ? tflops.ToString("F2", CultureInfo.InvariantCulture) : "—");
            }
            var forward = byPass.GetValueOrDefault(AttentionPass.Forward);
            var backward = byPass.GetValueOrDefault(AttentionPass.ForwardBackward) ?? byPass.GetValueOrDefault(AttentionPass.Backward);
            cells.AddRange([ByteSize.Format(forward?.PeakBytes), ByteSize.Format(backward?.PeakBytes),
                ByteSize.Format(forward?.NaiveBytes), ByteSize.Format(backward?.NaiveBytes)]);
            table.AddRow(cells);
        }

        var text = new StringBuilder();
        text.Append($"{run.Device}, {run.Driver}, commit {run.Commit}, {run.Date}\n\n").Append(table);
        var errors = rows.Where(r => r.Error is not null).ToList();
        if (errors.Count > 0)
        {
            text.Append("\nErrors:\n\n");
            foreach (var r in errors)
                text.Append($"- {DTypeNames.Of(r.DType)} d={r.HeadDim} causal={r.Causal} s={r.SeqLen} {AttentionPasses.Name(r.Pass)}: {r.Error}\n");
        }
        if (run.Notes is { Count: > 0 } notes)
        {
            text.Append("\nNotes:\n\n");
            foreach (string note in notes) text.Append($"- {note}\n");
        }
        return text.ToString();
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
