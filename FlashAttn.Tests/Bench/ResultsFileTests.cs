using System.Text.Json;
using FlashAttn.Bench.Results;

namespace FlashAttn.Tests.Bench;

/// <summary>The results files: the shared schema written and read back, PyTorch's files in it, and the flat reference file.</summary>
public class ResultsFileTests
{
    private static readonly BenchResult Timed = new()
    {
        Backend = Backends.FlashAttn, DType = DType.Float16, HeadDim = 128, Causal = true, Batch = 4, SeqLen = 4096, Heads = 16,
        Pass = AttentionPass.ForwardBackward, Ms = 12.5, Tflops = 38.25, PeakBytes = 1L << 33, NaiveBytes = 3L << 33,
    };

    private static readonly BenchResult Failed = Timed with
    {
        Backend = "cudnn", DType = DType.BFloat16, Pass = AttentionPass.Backward, Ms = null, Tflops = null, PeakBytes = null, NaiveBytes = null,
        Error = "OutOfMemoryException: no",
    };

    private static BenchRun Run(params BenchResult[] results) => new()
    {
        Device = "NVIDIA H100 80GB HBM3", Driver = "CUDA 13.0 (13000)", Commit = "abc1234", Date = "2026-11-20T10:00:00Z",
        Command = "FlashAttn.Bench sweep", Results = results,
    };

    [Test]
    public void ARunSurvivesTheRoundTrip()
    {
        var run = Run(Timed, Failed);
        var back = ResultsFile.Parse(ResultsFile.Serialize(run), "test");
        Assert.Multiple(() =>
        {
            Assert.That(back.Results, Is.EqualTo(run.Results));
            Assert.That((back.Device, back.Driver, back.Commit, back.Date, back.Command), Is.EqualTo((run.Device, run.Driver, run.Commit, run.Date, run.Command)));
        });
    }

    [Test]
    public void TheJsonHasTheSharedSchemasNamesAndValues()
    {
        using var json = JsonDocument.Parse(ResultsFile.Serialize(Run(Timed, Failed)));
        var root = json.RootElement;
        var timed = root.GetProperty("results")[0];
        var failed = root.GetProperty("results")[1];
        Assert.Multiple(() =>
        {
            Assert.That(root.EnumerateObject().Select(p => p.Name), Is.EquivalentTo(new[] { "device", "driver", "commit", "date", "command", "results" }));
            Assert.That(timed.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[]
            {
                "backend", "dtype", "head_dim", "causal", "batch", "seqlen", "heads", "pass", "ms", "tflops", "peak_bytes", "naive_bytes", "error",
            }));
            Assert.That(timed.GetProperty("dtype").GetString(), Is.EqualTo("fp16"));
            Assert.That(timed.GetProperty("pass").GetString(), Is.EqualTo("fwd_bwd"));
            Assert.That(timed.GetProperty("causal").GetBoolean(), Is.True);
            Assert.That(timed.GetProperty("peak_bytes").GetInt64(), Is.EqualTo(1L << 33));
            Assert.That(timed.GetProperty("error").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(failed.GetProperty("dtype").GetString(), Is.EqualTo("bf16"));
            Assert.That(failed.GetProperty("pass").GetString(), Is.EqualTo("bwd"));
            Assert.That(failed.GetProperty("ms").ValueKind, Is.EqualTo(JsonValueKind.Null), "nulls are written, not left out");
        });
    }

    [Test]
    public void AFileOfThePyTorchScriptReads()
    {
        const string json = """
            {"device": "NVIDIA H100", "driver": "580.159.04", "commit": "abc", "date": "2026-11-20T10:00:00", "command": "python bench.py",
             "results": [{"backend": "mem_efficient", "dtype": "fp32", "head_dim": 64, "causal": false, "batch": 32, "seqlen": 512,
                          "heads": 32, "pass": "fwd", "ms": 0.5, "tflops": 34.1, "peak_bytes": null, "naive_bytes": null, "error": null}]}
            """;
        var result = ResultsFile.Parse(json, "torch.json").Results.Single();
        Assert.That(result, Is.EqualTo(new BenchResult
        {
            Backend = "mem_efficient", DType = DType.Float32, HeadDim = 64, Causal = false, Batch = 32, SeqLen = 512, Heads = 32,
            Pass = AttentionPass.Forward, Ms = 0.5, Tflops = 34.1,
        }));
    }

    [Test]
    public void TheFlatReferenceFileMapsOntoTheSchema()
    {
        // Two rows as in shared/reference/h100-pytorch-sdpa-2026-11-20.json, including a backend marked unsupported ("x").
        const string json = """
            [{"dtype": "float16", "d": 64, "causal": false, "n": 512, "flash_fwd_ms": 0.2642, "flash_fwd_tflops": 260.1,
              "flash_fwdbwd_ms": 1.5293, "flash_fwdbwd_tflops": 157.3, "efficient_fwd_ms": 0.558, "efficient_fwd_tflops": 123.2},
             {"dtype": "float32", "d": 128, "causal": true, "n": 16384, "flash_fwd_tflops": "x", "naive_fwd_ms": 98.8, "naive_fwd_tflops": 11.1}]
            """;
        var results = ResultsFile.Parse(json, "reference.json").Results;
        var flash = results.Single(r => r.Backend == "flash" && r.Pass == AttentionPass.ForwardBackward);
        var efficient = results.Single(r => r.Backend == "mem_efficient");
        var unsupported = results.Single(r => r.Backend == "flash" && r.SeqLen == 16384);
        Assert.Multiple(() =>
        {
            Assert.That(results, Has.Count.EqualTo(5));
            Assert.That(flash, Is.EqualTo(new BenchResult
            {
                Backend = "flash", DType = DType.Float16, HeadDim = 64, Causal = false, Batch = 32, SeqLen = 512, Heads = 32,
                Pass = AttentionPass.ForwardBackward, Ms = 1.5293, Tflops = 157.3,
            }));
            Assert.That((efficient.Pass, efficient.Tflops), Is.EqualTo((AttentionPass.Forward, 123.2)));
            Assert.That((unsupported.Batch, unsupported.Heads, unsupported.Tflops, unsupported.Causal), Is.EqualTo((1, 16, (double?)null, true)));
            Assert.That(unsupported.Error, Does.Contain("not supported"));
            Assert.That(results.Single(r => r.Backend == "naive").Ms, Is.EqualTo(98.8));
        });
    }

    [TestCase("42")]
    [TestCase("[{\"d\": 64}]")]
    [TestCase("{\"results\": [{\"dtype\": \"fp8\"}]}")]
    public void AnythingElseIsAFormatError(string json)
        => Assert.That(() => ResultsFile.Parse(json, "bad.json"), Throws.TypeOf<FormatException>().With.Message.Contains("bad.json").Or.Message.Contains("fp8"));
}
