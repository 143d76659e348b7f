using FlashAttn.Bench.Attention;
using FlashAttn.Bench.Cli;
using FlashAttn.Bench.Results;

namespace FlashAttn.Tests.Bench;

/// <summary>The sweep's grid and options: flash-attn's configurations by default, the options narrow them, bad ones are refused.</summary>
public class SweepGridTests
{
    private static SweepOptions Parse(params string[] args) => SweepOptions.Parse(new VerbArguments(args, SweepOptions.ValueOptions));

    [Test]
    public void TheDefaultIsFlashAttnsBenchmarkGrid()
    {
        var options = Parse();
        var configurations = options.Grid.Configurations();
        Assert.Multiple(() =>
        {
            Assert.That(configurations, Has.Count.EqualTo(3 * 2 * 6 * 2), "dtypes × head dims × seqlens × masks");
            Assert.That(configurations.Select(c => c.SeqLen).Distinct(), Is.EqualTo(new[] { 512, 1024, 2048, 4096, 8192, 16384 }));
            Assert.That(configurations.All(c => c.Batch * c.SeqLen == 16384), "batch·seqlen = 16384");
            Assert.That(configurations.All(c => c.Heads * c.HeadDim == 2048), "heads = 2048 / d");
            Assert.That(options.Grid.Passes, Is.EqualTo(AttentionPasses.All));
            Assert.That((options.Runs, options.Warmup, options.BufferSets), Is.EqualTo((10, 3, 2)));
        });
    }

    [Test]
    public void ConfigurationsOfOneShapeAreAdjacentSoTheyShareBuffers()
    {
        var configurations = Parse("--dtypes", "fp16,bf16", "--seqlens", "512,1024").Grid.Configurations();
        var shapes = configurations.Select(c => (c.DType, c.HeadDim, c.SeqLen)).ToList();
        for (int i = 2; i < shapes.Count; i++)
            Assert.That(shapes.IndexOf(shapes[i]), Is.GreaterThanOrEqualTo(i - 1), $"shape {shapes[i]} recurs after another");
    }

    [Test]
    public void OptionsNarrowTheGrid()
    {
        var options = Parse("--dtypes", "bf16", "--head-dims", "128", "--seqlens", "4096", "--causal", "on", "--passes", "fwd_bwd",
            "--runs", "20", "--warmup", "0", "--settle-ms", "250", "--warmup-ms", "300", "--batch-tokens", "8192");
        var only = options.Grid.Configurations().Single();
        Assert.Multiple(() =>
        {
            Assert.That(only, Is.EqualTo(new SweepConfiguration(DType.BFloat16, 128, true, 2, 4096, 16)));
            Assert.That(options.Grid.Passes, Is.EqualTo(new[] { AttentionPass.ForwardBackward }));
            Assert.That((options.Runs, options.Warmup, options.SettleMs, options.WarmupMs), Is.EqualTo((20, 0, 250, 300)));
            Assert.That(Parse().SettleMs, Is.Zero, "no idle unless asked");
            Assert.That(Parse().WarmupMs, Is.Zero, "no timed warm-up unless asked");
        });
    }

    [Test]
    public void FpMathAndLayoutReachEveryConfiguration()
    {
        var configurations = Parse("--dtypes", "fp32", "--fp32-math", "tensor-cores", "--layout", "bhsd").Grid.Configurations();
        Assert.Multiple(() =>
        {
            Assert.That(configurations.All(c => c.Fp32Math == Fp32Math.TensorCores && c.Layout == AttentionLayout.BatchHeadSeqDim));
            Assert.That(configurations.All(c => c.Shape.Layout == AttentionLayout.BatchHeadSeqDim), "the launcher's shape carries the layout");
            Assert.That(Parse().Grid.Configurations().All(c => c.Layout == AttentionLayout.BatchSeqHeadDim), "(b, s, h, d) by default");
        });
    }

    [Test]
    public void SeqLensLongerThanTheTokensRunOneBatch()
        => Assert.That(Parse("--seqlens", "32768").Grid.Configurations().All(c => c.Batch == 1));

    [TestCase("--dtypes", "fp8", "fp8")]
    [TestCase("--head-dims", "4096", "larger than the model dim")]
    [TestCase("--passes", "both", "both")]
    [TestCase("--causal", "maybe", "maybe")]
    [TestCase("--runs", "0", "positive")]
    [TestCase("--bogus", "1", "unknown option")]
    public void BadOptionsAreRefusedWithAReason(string name, string value, string fragment)
        => Assert.That(() => Parse(name, value), Throws.TypeOf<FormatException>().With.Message.Contains(fragment));

    [Test]
    public void HeadsAreTheModelDimOverTheHeadDimRoundedDown()
        => Assert.That(Parse("--head-dims", "96").Grid.Configurations().Select(c => c.Heads).Distinct(), Is.EqualTo(new[] { 21 }));

    [Test]
    public void AnOptionWithoutItsValueIsRefused()
        => Assert.That(() => Parse("--runs"), Throws.TypeOf<FormatException>().With.Message.Contains("needs a value"));
}
