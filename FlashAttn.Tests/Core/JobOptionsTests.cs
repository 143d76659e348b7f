using FlashAttn.Job;

namespace FlashAttn.Tests.Core;

public class JobOptionsTests
{
    [Test]
    public void NoArgumentsLeaveEverythingToTheDevice()
    {
        var options = JobOptions.Parse([]);
        Assert.Multiple(() =>
        {
            Assert.That(options.Device, Is.Null);
            Assert.That(options.DType, Is.Null);
            Assert.That(options.Causal, Is.Null);
            Assert.That(options.Samples, Is.EqualTo(32));
        });
    }

    [Test]
    public void EveryOptionIsParsed()
    {
        var options = JobOptions.Parse(["--device", "cuda", "--seqlen", "2048", "--batch=2", "--heads", "8", "--headdim", "96",
            "--dtype", "bf16", "--causal", "--iterations", "3", "--samples", "5"]);
        Assert.That(options, Is.EqualTo(new JobOptions
        {
            Device = DeviceKind.Cuda, SeqLen = 2048, Batch = 2, Heads = 8, HeadDim = 96, DType = DType.BFloat16,
            Causal = true, Iterations = 3, Samples = 5,
        }));
    }

    [TestCase(new[] { "--causal" }, true)]
    [TestCase(new[] { "--causal", "false" }, false)]
    [TestCase(new[] { "--causal=true" }, true)]
    [TestCase(new[] { "--no-causal" }, false)]
    [TestCase(new[] { "--causal", "--seqlen", "8" }, true)]
    public void CausalIsAFlagOrABoolean(string[] args, bool expected) =>
        Assert.That(JobOptions.Parse(args).Causal, Is.EqualTo(expected));

    [TestCase("fp32", DType.Float32), TestCase("float16", DType.Float16), TestCase("HALF", DType.Float16), TestCase("bfloat16", DType.BFloat16)]
    public void DtypeNamesAreAccepted(string name, DType expected) =>
        Assert.That(JobOptions.Parse(["--dtype", name]).DType, Is.EqualTo(expected));

    [TestCase(new[] { "--seqlen" }, "--seqlen needs a value")]
    [TestCase(new[] { "--seqlen", "0" }, "positive integer")]
    [TestCase(new[] { "--batch", "-3" }, "positive integer")]
    [TestCase(new[] { "--heads", "x" }, "positive integer")]
    [TestCase(new[] { "--device", "tpu" }, "cpu, cuda or cpu-emulator")]
    [TestCase(new[] { "--dtype", "fp8" }, "fp32, fp16 or bf16")]
    [TestCase(new[] { "--causal", "maybe" }, "true or false")]
    [TestCase(new[] { "--frobnicate" }, "Unknown option '--frobnicate'")]
    public void BadOptionsAreReported(string[] args, string message) =>
        Assert.That(() => JobOptions.Parse(args), Throws.TypeOf<FormatException>().With.Message.Contain(message));

    [Test]
    public void DefaultsDependOnTheDevice()
    {
        var cuda = AttentionJob.Plan(new JobOptions(), DeviceKind.Cuda);
        var cpu = AttentionJob.Plan(new JobOptions(), DeviceKind.Cpu);
        var emulator = AttentionJob.Plan(new JobOptions(), DeviceKind.CpuEmulator);
        var chosen = AttentionJob.Plan(new JobOptions { DType = DType.BFloat16, Causal = true, SeqLen = 77 }, DeviceKind.Cuda);
        Assert.Multiple(() =>
        {
            Assert.That(cuda, Has.Count.EqualTo(4));
            Assert.That(cuda[0], Is.EqualTo(new AttentionJob.RunSpec(4, 4096, 16, 128, DType.Float16, false, 10, 32)));
            Assert.That(cuda.Select(r => r.DType).Distinct(), Is.EquivalentTo(new[] { DType.Float16, DType.Float32 }));
            Assert.That(cpu, Has.Count.EqualTo(2));
            Assert.That(cpu[1], Is.EqualTo(new AttentionJob.RunSpec(1, 2048, 8, 64, DType.Float32, true, 3, 32)));
            Assert.That(emulator[1], Is.EqualTo(new AttentionJob.RunSpec(1, 512, 4, 64, DType.Float32, true, 1, 32)));
            Assert.That(chosen, Is.EqualTo(new[] { new AttentionJob.RunSpec(4, 77, 16, 128, DType.BFloat16, true, 10, 32) }));
        });
    }

    [Test]
    public void ASmallJobRunsAndPasses()
    {
        var log = new StringWriter();
        int exit = new AttentionJob(JobOptions.Parse(["--device", "cpu", "--seqlen", "48", "--heads", "2", "--headdim", "16",
            "--dtype", "fp16", "--samples", "8"]), log).Run();
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.Zero, log.ToString());
            Assert.That(log.ToString(), Does.Contain("TFLOP/s").And.Contain("naive").And.Contain("PASS").And.Contain("non-causal").And.Contain("causal"));
        });
    }
}
