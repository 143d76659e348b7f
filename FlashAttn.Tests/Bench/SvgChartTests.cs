using System.Xml.Linq;
using FlashAttn.Bench.Plot;
using FlashAttn.Bench.Results;

namespace FlashAttn.Tests.Bench;

/// <summary>The charts: well-formed SVG with one line per backend, labelled axes and legend, and sensible ticks.</summary>
public class SvgChartTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    internal static BenchResult Row(string backend, int seqLen, double? tflops, AttentionPass pass = AttentionPass.Forward, string? error = null) => new()
    {
        Backend = backend, DType = DType.Float16, HeadDim = 128, Causal = false, Batch = 16384 / seqLen, SeqLen = seqLen, Heads = 16,
        Pass = pass, Ms = tflops is null ? null : 1.0, Tflops = tflops, Error = error,
    };

    internal static ResultSet Results(params BenchResult[] rows) => new([new BenchRun
    {
        Device = "test", Driver = "none", Commit = "abc", Date = "today", Command = "test", Results = rows,
    }]);

    [Test]
    public void AChartHasALinePerBackendWithItsPointsAndALegend()
    {
        var results = Results(
            Row("flashattn", 512, 5), Row("flashattn", 1024, 6), Row("flashattn", 2048, 8),
            Row("flash", 512, 260), Row("flash", 1024, 290), Row("flash", 2048, 300),
            Row("math", 512, 13), Row("math", 2048, null, error: "out of memory"));
        var svg = XDocument.Parse(PlotCommand.Chart(results, ChartGroup.Of(Row("flash", 512, 1)), logY: false));
        var series = svg.Descendants(Svg + "g").Where(g => (string?)g.Attribute("class") == "series").ToList();
        var legend = svg.Descendants(Svg + "g").Single(g => (string?)g.Attribute("class") == "legend");
        Assert.Multiple(() =>
        {
            Assert.That(svg.Root!.Name, Is.EqualTo(Svg + "svg"));
            Assert.That(series.Select(g => (string?)g.Attribute("data-name")), Is.EquivalentTo(new[] { "flashattn (ours)", "flash", "math" }));
            Assert.That(series.Single(g => (string?)g.Attribute("data-name") == "flash").Elements(Svg + "circle").Count(), Is.EqualTo(3));
            Assert.That(series.Single(g => (string?)g.Attribute("data-name") == "math").Elements(Svg + "circle").Count(), Is.EqualTo(1), "failed points are left out");
            Assert.That(legend.Elements(Svg + "text").Select(t => t.Value), Is.EqualTo(new[] { "flashattn (ours)", "flash", "math" }));
            Assert.That(svg.Descendants(Svg + "text").Select(t => t.Value), Does.Contain("TFLOP/s").And.Contain("sequence length (log₂ scale)")
                .And.Contain("fp16, d = 128, non-causal, forward"));
            Assert.That(svg.Descendants(Svg + "g").Single(g => (string?)g.Attribute("class") == "ticks").Elements(Svg + "text").Select(t => t.Value),
                Is.SupersetOf(new[] { "512", "1k", "2k", "0", "100", "200", "300" }));
        });
    }

    [Test]
    public void Log2AxisPutsPowersOfTwoEvenlyApart()
    {
        var axis = new LogAxis(2, [512, 16384]);
        Assert.Multiple(() =>
        {
            Assert.That(axis.Ticks.Select(t => t.Label), Is.EqualTo(new[] { "512", "1k", "2k", "4k", "8k", "16k" }));
            Assert.That(axis.Fraction(512), Is.EqualTo(0).Within(1e-12));
            Assert.That(axis.Fraction(4096), Is.EqualTo(0.6).Within(1e-12));
            Assert.That(axis.Fraction(16384), Is.EqualTo(1).Within(1e-12));
        });
    }

    [Test]
    public void Log10AxisSpansTheDecadesOfTheValues()
        => Assert.That(new LogAxis(10, [5.2, 577]).Ticks.Select(t => t.Value), Is.EqualTo(new[] { 1.0, 10, 100, 1000 }));

    [TestCase(0.7, 1)]
    [TestCase(13, 20)]
    [TestCase(41, 50)]
    [TestCase(100, 100)]
    [TestCase(0.013, 0.02)]
    public void LinearStepsAreOneTwoOrFiveTimesAPowerOfTen(double rough, double expected)
        => Assert.That(LinearAxis.NiceStep(rough), Is.EqualTo(expected).Within(1e-12));

    [Test]
    public void LinearAxisEndsOnARoundNumberAtOrAboveTheLargestValue()
    {
        var axis = new LinearAxis([3.0, 41.0]);
        Assert.Multiple(() =>
        {
            Assert.That(axis.Ticks.Select(t => t.Value), Is.EqualTo(new[] { 0.0, 10, 20, 30, 40, 50 }));
            Assert.That(axis.Fraction(50), Is.EqualTo(1).Within(1e-12));
        });
    }

    [Test]
    public void TextIsEscaped()
    {
        var series = new ChartSeries("a<b & c", "#000000", false, [(512, 1)]);
        Assert.That(() => XDocument.Parse(SvgChart.Render("x < y", "s", "t", new LogAxis(2, [512]), new LinearAxis([1.0]), [series])), Throws.Nothing);
    }
}
