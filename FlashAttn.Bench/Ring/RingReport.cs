using System.Text;
using FlashAttn.Bench.Results;

namespace FlashAttn.Bench.Ring;

/// <summary>The <c>ring</c> verb's short markdown report: the check, weak scaling and the largest sequence, then errors.</summary>
internal static class RingReport
{
    /// <summary>The report of <paramref name="run"/> (the parts it holds).</summary>
    public static string Markdown(RingRun run)
    {
        string gpus = string.Join(", ", run.Gpus.GroupBy(g => g).Select(g => g.Count() > 1 ? $"{g.Key} × {g.Count()}" : g.Key));
        var text = new StringBuilder()
            .Append($"{gpus}: {run.Ranks} ranks over {run.Transport}{(run.Nccl is { } v ? $" (NCCL {v})" : "")}, {run.Driver}, commit {run.Commit}, {run.Date}\n")
            .Append($"{DTypeNames.Of(run.DType)}, b={run.Batch}, h={run.Heads}, d={run.HeadDim}, causal, zig-zag sharding\n");

        if (run.Check is { } check)
        {
            text.Append($"\nCorrectness at S = {check.Tokens} (ring over {run.Ranks} ranks against one GPU): **{(check.Passed ? "passed" : "FAILED")}**\n\n");
            var table = new MarkdownTable(["tensor", "max abs error", "max abs single", "error", "bound", "ok"], labelColumns: 1);
            foreach (var t in check.Tensors)
                table.AddRow(t.Name, $"{t.MaxAbsError:0.00E+0}", $"{t.MaxAbsReference:0.00E+0}", $"{t.Error:0.00E+0}{(t.Relative ? " (rel)" : "")}", $"{t.Bound:0E+0}",
                    t.Passed ? "yes" : "**no**");
            text.Append(table);
        }

        if (run.Scaling is { } scaling)
        {
            text.Append($"\nWeak scaling at S = {scaling.Tokens} ({scaling.TokensPerRank} per rank; single GPU at S/N = {scaling.TokensPerRank}), " +
                $"median of {scaling.Runs} after {scaling.Warmup} warm-up\n\n");
            var table = new MarkdownTable(["pass", "ring ms", "ring TFLOP/s per rank", "single ms", "single TFLOP/s", "ratio", $"≥ {ScalingPass.Target}"],
                labelColumns: 1);
            foreach (var p in scaling.Passes)
                table.AddRow(AttentionPasses.Title(p.Pass), $"{p.RingMs:F2}", $"{p.RingTflopsPerRank:F1}", $"{p.SingleMs:F2}", $"{p.SingleTflops:F1}",
                    $"{p.Ratio:F3}", p.TargetMet ? "yes" : "**no**");
            text.Append(table);
        }

        if (run.Largest is { } largest)
        {
            var stop = largest.Probes.LastOrDefault(p => p.Outcome != "ran");
            text.Append($"\nLargest forward + backward on {run.Ranks} ranks: **{largest.LargestTokens}** tokens " +
                $"({largest.LargestTokens / run.Ranks} per rank); stopped by {largest.StoppedBy}{(stop is null ? "" : $" at {stop.Tokens}")}\n\n");
            var table = new MarkdownTable(["tokens", "per rank", "fwd+bwd ms", "TFLOP/s per rank", "peak per rank", "outcome"], labelColumns: 0);
            foreach (var p in largest.Probes)
                table.AddRow($"{p.Tokens}", $"{p.TokensPerRank}", p.Ms is { } ms ? $"{ms:F0}" : "—", p.TflopsPerRank is { } t ? $"{t:F1}" : "—",
                    ByteSize.Format(p.PeakBytes), p.Outcome);
            text.Append(table);
        }

        if (run.Errors.Count > 0)
        {
            text.Append("\nErrors:\n\n");
            foreach (string e in run.Errors) text.Append($"- {e}\n");
        }
        return text.ToString();
    }
}
