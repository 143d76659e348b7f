using FlashAttn.Bench.Plot;
using FlashAttn.Bench.Results;
using static FlashAttn.Tests.Bench.SvgChartTests;

namespace FlashAttn.Tests.Bench;

/// <summary>The comparison tables: ours, theirs and ours / theirs per sequence length.</summary>
public class ComparisonReportTests
{
    private static string[] TableRow(string markdown, string firstCell)
        => markdown.Split('\n').Single(l => l.StartsWith($"| {firstCell} |", StringComparison.Ordinal))
            .Split('|', StringSplitOptions.TrimEntries)[1..^1];

    [Test]
    public void RatiosAreOursOverTheirsAndOverTheBest()
    {
        string markdown = ComparisonReport.Markdown(Results(
            Row("flashattn", 512, 10), Row("flash", 512, 40), Row("math", 512, 5),
            Row("flashattn", 1024, 12), Row("math", 1024, null, error: "unsupported")));
        Assert.Multiple(() =>
        {
            Assert.That(markdown, Does.Contain("## fp16, d = 128, non-causal, forward"));
            Assert.That(markdown, Does.Contain("| seqlen | ours | flash | math | ours / flash | ours / math | ours / best |"));
            Assert.That(TableRow(markdown, "512"), Is.EqualTo(new[] { "512", "10.0", "40.0", "5.0", "0.25×", "2.00×", "0.25×" }));
            Assert.That(TableRow(markdown, "1024"), Is.EqualTo(new[] { "1024", "12.0", "—", "n/a", "—", "—", "—" }));
        });
    }

    [Test]
    public void GroupsWithoutOursAreLeftOutAndOursAloneHasNoRatios()
    {
        string markdown = ComparisonReport.Markdown(Results(
            Row("flashattn", 512, 10, AttentionPass.Backward), Row("flash", 512, 40, AttentionPass.Forward)));
        Assert.Multiple(() =>
        {
            Assert.That(markdown, Does.Contain("backward").And.Not.Contain("## fp16, d = 128, non-causal, forward\n"));
            Assert.That(TableRow(markdown, "512"), Is.EqualTo(new[] { "512", "10.0" }));
        });
    }

    [TestCase(10.0, 40.0, "0.25×")]
    [TestCase(10.0, null, "—")]
    [TestCase(null, 40.0, "—")]
    [TestCase(10.0, 0.0, "—")]
    public void RatioCells(double? ours, double? theirs, string expected) => Assert.That(ComparisonReport.Ratio(ours, theirs), Is.EqualTo(expected));

    [Test]
    public void ALaterTimedRowReplacesAnEarlierOneButAnUntimedOneDoesNot()
    {
        var set = new ResultSet([
            new BenchRun { Device = "a", Driver = "", Commit = "", Date = "", Command = "", Results = [Row("flashattn", 512, 5)] },
            new BenchRun { Device = "b", Driver = "", Commit = "", Date = "", Command = "", Results = [Row("flashattn", 512, 7), Row("flashattn", 1024, 3)] },
            new BenchRun { Device = "c", Driver = "", Commit = "", Date = "", Command = "", Results = [Row("flashattn", 512, null) with { PeakBytes = 1 }] },
        ]);
        var key = Row("flashattn", 512, 1).Key;
        Assert.That(set.Find("flashattn", key)?.Tflops, Is.EqualTo(7));
    }
}
