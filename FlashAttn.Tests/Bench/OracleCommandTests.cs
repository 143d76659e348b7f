using System.Text.Json;
using FlashAttn.Bench.Oracle;
using FlashAttn.Compute;
using FlashAttn.Kernels;
using FlashAttn.Tests.Kernels;

namespace FlashAttn.Tests.Bench;

/// <summary>
/// The oracle verb (<c>FlashAttn.Bench oracle --dir D</c>) in-process on the CPU device (on the GPU, torch_oracle.py runs it): the raw files it reads and
/// writes in every dtype, its manifest and results.json, and that a broken case is reported without stopping the rest.
/// Outputs are checked with the kernel table's rule against the fp64 reference.
/// </summary>
public class OracleCommandTests
{
    /// <summary>
    /// One tiny case per dtype: GQA with bottom-right causal and fully masked rows (s_q &gt; s_k), MQA top-left with the
    /// deterministic backward, plain odd lengths with the scale left to the API's default.
    /// </summary>
    private static readonly AttentionCase[] Cases =
    [
        new(new AttentionShape(1, 29, 13, 4, 2, 24), AttentionDtype.Fp32, Causal: true, BottomRight: true, Deterministic: false, Seed: 21),
        new(new AttentionShape(2, 11, 23, 2, 1, 16), AttentionDtype.Fp16, Causal: true, BottomRight: false, Deterministic: true, Seed: 22),
        new(new AttentionShape(1, 17, 9, 2, 2, 8), AttentionDtype.Bf16, Causal: false, BottomRight: true, Deterministic: false, Seed: 23),
    ];

    [Test]
    public void OracleVerbMatchesReferenceInEveryDtypeAndReportsBrokenCases()
    {
        var dir = Directory.CreateTempSubdirectory("flashattn-oracle-");
        try
        {
            var runs = new Dictionary<string, AttentionRun>();
            var manifest = new List<OracleCase>();
            foreach (var c in Cases)
            {
                var entry = Entry($"{c.Dtype}-{manifest.Count}".ToLowerInvariant(), c);
                var run = new AttentionRun(c);
                WriteInputs(Path.Combine(dir.FullName, entry.Name), run);
                runs[entry.Name] = run;
                manifest.Add(entry);
            }
            // q.bin one element short: an error for this case only
            var broken = Entry("broken", Cases[0]);
            var brokenRun = new AttentionRun(Cases[0]);
            WriteInputs(Path.Combine(dir.FullName, broken.Name), brokenRun);
            RawTensorFile.Write<float>(Path.Combine(dir.FullName, broken.Name, "q.bin"), brokenRun.Q.AsSpan(1));
            manifest.Insert(1, broken);
            File.WriteAllText(Path.Combine(dir.FullName, "cases.json"), JsonSerializer.Serialize(new OracleManifest { Cases = manifest }));

            using var device = Device.Cpu();
            int exit = OracleCommand.Run(dir.FullName, device, TestContext.Out);

            Assert.That(exit, Is.EqualTo(1), "one case is broken");
            var results = JsonSerializer.Deserialize<OracleResults>(File.ReadAllText(Path.Combine(dir.FullName, "results.json")))!;
            Assert.That(results.Cases.Select(s => s.Name), Is.EqualTo(manifest.Select(c => c.Name)));
            foreach (var status in results.Cases)
            {
                if (status.Name == broken.Name)
                {
                    Assert.That(status.Status, Is.EqualTo("error"));
                    Assert.That(status.Error, Does.Contain("q.bin"));
                    Assert.That(File.Exists(Path.Combine(dir.FullName, broken.Name, "o.bin")), Is.False);
                    continue;
                }
                Assert.That(status.Status, Is.EqualTo("ok"), status.Error);
                CheckOutputs(Path.Combine(dir.FullName, status.Name), runs[status.Name]);
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Test]
    public void UsageErrorsReturnTwo()
    {
        Assert.That(OracleCommand.Run([]), Is.EqualTo(2));
        Assert.That(OracleCommand.Run(["--dir"]), Is.EqualTo(2));
        Assert.That(OracleCommand.Run(["--dir", "x", "--device", "tpu"]), Is.EqualTo(2));
        Assert.That(OracleCommand.Run(["--folder", "x"]), Is.EqualTo(2));
    }

    private static OracleCase Entry(string name, AttentionCase c) => new()
    {
        Name = name,
        Dtype = c.Dtype.ToString().ToLowerInvariant(),
        Batch = c.Shape.Batch,
        SeqLenQ = c.Shape.SeqLenQ,
        SeqLenK = c.Shape.SeqLenK,
        HeadsQ = c.Shape.HeadsQ,
        HeadsKV = c.Shape.HeadsKV,
        HeadDim = c.Shape.HeadDim,
        Causal = c.Causal,
        Alignment = c.BottomRight ? "bottom_right" : "top_left",
        Scale = c.Dtype == AttentionDtype.Bf16 ? null : c.Settings.Scale, // null: the API's default 1/√d
        Deterministic = c.Deterministic,
    };

    private static void WriteInputs(string folder, AttentionRun run)
    {
        Directory.CreateDirectory(folder);
        foreach (var (file, values) in new[] { ("q.bin", run.Q), ("k.bin", run.K), ("v.bin", run.V), ("do.bin", run.DOutput) })
        {
            string path = Path.Combine(folder, file);
            switch (run.Case.Dtype)
            {
                case AttentionDtype.Fp16: RawTensorFile.Write<Half>(path, Array.ConvertAll(values, x => (Half)x)); break;
                case AttentionDtype.Bf16: RawTensorFile.Write<BFloat16>(path, Array.ConvertAll(values, x => (BFloat16)x)); break;
                default: RawTensorFile.Write<float>(path, values); break;
            }
        }
    }

    private static double[] ReadWidened(string path, AttentionDtype dtype, long count) => dtype switch
    {
        AttentionDtype.Fp16 => Array.ConvertAll(RawTensorFile.Read<Half>(path, count), x => (double)x),
        AttentionDtype.Bf16 => Array.ConvertAll(RawTensorFile.Read<BFloat16>(path, count), x => (double)(float)x),
        _ => Array.ConvertAll(RawTensorFile.Read<float>(path, count), x => (double)x),
    };

    private static void CheckOutputs(string folder, AttentionRun run)
    {
        var shape = run.Case.Shape;
        var dtype = run.Case.Dtype;
        var reference = run.Reference(backward: true);
        var naive = run.Naive(backward: true);
        long lseCount = (long)shape.Batch * shape.HeadsQ * shape.SeqLenQ;
        var lse = Array.ConvertAll(RawTensorFile.Read<float>(Path.Combine(folder, "lse.bin"), lseCount), x => (double)x);
        AttentionKernelTests.Check("O", ReadWidened(Path.Combine(folder, "o.bin"), dtype, run.Q.Length), naive.Output, reference.Output, AttentionKernelTests.ForwardFactor);
        AttentionKernelTests.Check("L", lse, naive.Lse, reference.Lse, AttentionKernelTests.ForwardFactor);
        AttentionKernelTests.Check("dQ", ReadWidened(Path.Combine(folder, "dq.bin"), dtype, run.Q.Length), naive.Dq, reference.Dq, AttentionKernelTests.GradientFactor);
        AttentionKernelTests.Check("dK", ReadWidened(Path.Combine(folder, "dk.bin"), dtype, run.K.Length), naive.Dk, reference.Dk, AttentionKernelTests.GradientFactor);
        AttentionKernelTests.Check("dV", ReadWidened(Path.Combine(folder, "dv.bin"), dtype, run.V.Length), naive.Dv, reference.Dv, AttentionKernelTests.GradientFactor);
    }
}
