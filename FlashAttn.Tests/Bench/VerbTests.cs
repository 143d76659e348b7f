using FlashAttn.Bench.Attention;
using FlashAttn.Bench.Inference;
using FlashAttn.Bench.Memory;
using FlashAttn.Bench.Plot;
using FlashAttn.Bench.Results;
using FlashAttn.Kernels;

namespace FlashAttn.Tests.Bench;

/// <summary>
/// The verbs end to end on the CPU accelerator at tiny sizes, as the GPU scripts run them on the GPU. The attention
/// cases share one kernel specialization (fp32, d = 16, no mask) so the CPU compiles it once.
/// </summary>
public class VerbTests
{
    private string _directory = null!;

    [SetUp]
    public void CreateDirectory() => Directory.CreateDirectory(_directory = Path.Combine(Path.GetTempPath(), "flashattn-bench-tests-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    private static (int ExitCode, string Output, string Progress) Run(Func<IReadOnlyList<string>, TextWriter, TextWriter, int> verb, params string[] args)
    {
        using var output = new StringWriter();
        using var progress = new StringWriter();
        int exitCode = verb(args, output, progress);
        return (exitCode, output.ToString(), progress.ToString());
    }

    [Test]
    public void SweepOnTheCpuTimesEveryPassAndWritesTheSchema()
    {
        string json = Path.Combine(_directory, "ours.json"), md = Path.Combine(_directory, "ours.md");
        var (exitCode, output, progress) = Run(AttentionSweep.Run, "sweep", "--device", "cpu", "--dtypes", "fp32", "--head-dims", "16",
            "--seqlens", "32", "--causal", "off", "--batch-tokens", "32", "--model-dim", "32", "--runs", "2", "--warmup", "0", "--buffer-sets", "1",
            "--json", json, "--md", md, "--commit", "test123");
        var run = ResultsFile.Read(json);
        var shape = new AttentionShape(1, 32, 32, 2, 2, 16);
        var settings = new AttentionSettings(0.25f, Causal: false);
        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(0), progress);
            Assert.That(run.Commit, Is.EqualTo("test123"));
            Assert.That(run.Command, Does.StartWith("FlashAttn.Bench sweep --device cpu"));
            Assert.That(run.Results.Select(r => r.Pass), Is.EqualTo(AttentionPasses.All));
            Assert.That(run.Results, Has.All.Matches<BenchResult>(r => r.Error is null && r.Ms > 0 && r.Tflops > 0 && r is
                { Backend: "flashattn", DType: DType.Float32, Batch: 1, SeqLen: 32, Heads: 2, HeadDim: 16, Causal: false }));
            foreach (var r in run.Results)
            {
                Assert.That(r.PeakBytes, Is.EqualTo(MemoryAccounting.Ours(r.Pass, shape, settings, 4)), $"{r.Pass} peak");
                Assert.That(r.NaiveBytes, Is.EqualTo(MemoryAccounting.Naive(r.Pass, shape, 4)), $"{r.Pass} naive");
            }
            Assert.That(progress.Split('\n').Count(l => l.StartsWith('[')), Is.EqualTo(3), "a progress line per configuration and pass");
            Assert.That(output, Does.Contain("| fp32 | 16 | no | 32 | 1 | 2 |"));
            Assert.That(File.ReadAllText(md), Is.EqualTo(output));
        });
    }

    [Test]
    public void SweepRefusesBadOptionsWithItsUsage()
    {
        var (exitCode, _, progress) = Run(AttentionSweep.Run, "sweep", "--device", "tpu");
        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(2));
            Assert.That(progress, Does.Contain("--device takes cuda | cpu").And.Contain("usage: sweep"));
        });
    }

    [Test]
    public void MemoryOnTheCpuAgreesWithTheAccountingAndFindsTheSearchBound()
    {
        string json = Path.Combine(_directory, "memory.json");
        var (exitCode, output, progress) = Run(MemoryBenchmark.Run, "memory", "--device", "cpu", "--dtypes", "fp32", "--head-dims", "16",
            "--seqlens", "16", "--batch-tokens", "16", "--model-dim", "16", "--search-heads", "1", "--search-head-dim", "16",
            "--search-step", "64", "--search-max-seqlen", "1000", "--confirm-seqlen", "32", "--json", json);
        var run = ResultsFile.Read(json);
        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(0), progress);
            Assert.That(run.Results.Select(r => r.Pass), Is.EqualTo(new[] { AttentionPass.Forward, AttentionPass.ForwardBackward }));
            Assert.That(run.Results, Has.All.Matches<BenchResult>(r => r.Error is null && r.PeakBytes > 0 && r.NaiveBytes > 0));
            Assert.That(run.MemoryLimits!.LargestSeqLen, Is.EqualTo(960), "the largest multiple of 64 up to 1000: host memory does not run out");
            Assert.That(run.MemoryLimits.Bound, Is.EqualTo("search bound"));
            Assert.That(run.MemoryLimits.Confirmation!.Matches, Is.True);
            Assert.That(run.MemoryLimits.Confirmation.TrackedPeakBytes, Is.EqualTo(run.MemoryLimits.Confirmation.AccountedBytes));
            Assert.That(output, Does.Contain("**960** tokens").And.Contain("naive fwd+bwd ="));
        });
    }

    [Test]
    public void PlotWritesAChartPerGroupAndTheReport()
    {
        string ours = Path.Combine(_directory, "ours.json"), torch = Path.Combine(_directory, "torch.json"), plots = Path.Combine(_directory, "plots");
        ResultsFile.Write(ours, new BenchRun
        {
            Device = "test", Driver = "none", Commit = "abc", Date = "today", Command = "test",
            Results = [SvgChartTests.Row("flashattn", 512, 5), SvgChartTests.Row("flashattn", 1024, 6), SvgChartTests.Row("flashattn", 512, 4, AttentionPass.Backward)],
        });
        File.WriteAllText(torch, """[{"dtype": "float16", "d": 128, "causal": false, "n": 512, "cudnn_fwd_ms": 0.17, "cudnn_fwd_tflops": 385.8}]""");
        var (exitCode, _, progress) = Run(PlotCommand.Plot, "plot", "--ours", ours, "--torch", torch, "--out", plots, "--y-scale", "log");
        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(0), progress);
            Assert.That(Directory.GetFiles(plots).Select(Path.GetFileName), Is.EquivalentTo(new[]
            {
                "tflops-fp16-d128-noncausal-fwd.svg", "tflops-fp16-d128-noncausal-bwd.svg", "report.md",
            }));
            Assert.That(File.ReadAllText(Path.Combine(plots, "report.md")), Does.Contain("| 512 | 5.0 | 385.8 | 0.01× |")
                .And.Contain("![fp16, d = 128, non-causal, forward](tflops-fp16-d128-noncausal-fwd.svg)"));
        });
    }

    [Test]
    public void ReportSaysWhichFileItCannotRead()
    {
        var (exitCode, _, progress) = Run(PlotCommand.Report, "report", "--ours", Path.Combine(_directory, "missing.json"));
        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(2));
            Assert.That(progress, Does.Contain("missing.json"));
        });
    }

    [Test]
    public void UploadRefusesBadSizesAndSaysWhenThereIsNoGpu()
    {
        var (badCode, _, badProgress) = Run(UploadBenchmark.Run, "upload", "--mib", "0");
        Assert.Multiple(() =>
        {
            Assert.That(badCode, Is.EqualTo(2));
            Assert.That(badProgress, Does.Contain("--mib").And.Contain("usage: FlashAttn.Bench upload"));
        });
        if (FlashAttn.Compute.Runtime.Cuda.CudaAccelerator.IsAvailable()) return; // on a GPU the verb measures (scripts/gpu)
        var (exitCode, _, progress) = Run(UploadBenchmark.Run, "upload", "--mib", "1");
        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(2));
            Assert.That(progress, Does.Contain("needs a CUDA device"));
        });
    }

    /// <summary>The modifiers verb first times the compile of the tensor-core forward with a new user modifier: its
    /// specializations must follow the kernel's parameters (a missing one left a register array unsized, and the verb
    /// aborted on the GPU before timing anything).</summary>
    [Test]
    public void ModifiersVerbCompilesTheUserModifierKernel()
    {
        var (seconds, passes) = ModifierBenchmark.CompileSeconds();
        Assert.Multiple(() =>
        {
            Assert.That(seconds, Is.GreaterThan(0));
            Assert.That(passes, Does.Contain(" ms"));
        });
    }
}
