using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FlashAttn.Compute.Runtime;
using FlashAttn.Cpu;
using FlashAttn.Kernels;
using FlashAttn.Kernels.Reference;
using FlashAttn.Tests.Kernels;

namespace FlashAttn.Tests.Cpu;

/// <summary>
/// The CPU path (<see cref="CpuAttentionKernels"/>) against the fp64 reference over the kernel test table, with the
/// kernels' acceptance rule (<see cref="AttentionKernelTests.Check"/>); each row on one of the vector widths the CPU
/// runs, so the 512-, 256- and 128-bit micro-kernels are all covered. Then masked rows, determinism, and parity with
/// the GPU kernels on the emulating accelerator.
/// </summary>
public class CpuAttentionTests
{
    private Accelerator _accelerator = null!;

    [OneTimeSetUp]
    public void Create() => _accelerator = Accelerators.CreateCpu();

    [OneTimeTearDown]
    public void Destroy() => _accelerator.Dispose();

    /// <summary>The widths this CPU can run (128-bit always; FMA is emulated where absent, which is only slower).</summary>
    private static int[] Widths()
    {
        var widths = new List<int> { 128 };
        if (Vector256.IsHardwareAccelerated && Fma.IsSupported) widths.Add(256);
        if (Vector512.IsHardwareAccelerated) widths.Add(512);
        return [.. widths];
    }

    /// <summary>Every row of <see cref="AttentionKernelTests.Table"/>; the vector width and worker count rotate across rows.</summary>
    public static IEnumerable<TestCaseData> Table()
    {
        int row = 0;
        foreach (var data in AttentionKernelTests.Table())
        {
            var c = (AttentionCase)data.Arguments[0]!;
            var widths = Widths();
            int bits = widths[row % widths.Length], threads = 1 + row % 3;
            row++;
            yield return new TestCaseData(c, bits, threads).SetName($"Cpu({c} {bits}-bit {threads}t)");
        }
    }

    [TestCaseSource(nameof(Table))]
    public void MatchesReference(AttentionCase c, int vectorBits, int threads)
    {
        var run = new AttentionRun(c);
        var ours = run.Kernels(_accelerator, backward: true, new CpuAttentionKernels(threads, vectorBits));
        var reference = run.Reference(backward: true);
        var naive = run.Naive(backward: true);
        AttentionKernelTests.CheckAll(ours, naive, reference);
    }

    /// <summary><see cref="AttentionKernelTests.WindowTable"/> on the CPU path: key blocks outside the windows skipped, rows
    /// that see no key as on the GPU.</summary>
    [TestCaseSource(typeof(AttentionKernelTests), nameof(AttentionKernelTests.WindowTable))]
    public void WindowMatchesReference(AttentionCase c, bool emptyRows)
        => AttentionKernelTests.CheckWindow(c, emptyRows, new AttentionRun(c).Kernels(_accelerator, backward: true, new CpuAttentionKernels(2)));

    /// <summary>Causal bottom-right with s_q &gt; s_k: the first s_q − s_k rows see no key (O = 0, L = +∞, dQ = 0), as on the GPU.</summary>
    [TestCase(AttentionDtype.Fp32, 512)]
    [TestCase(AttentionDtype.Bf16, 256)]
    [TestCase(AttentionDtype.Fp16, 128)]
    public void FullyMaskedRowsGiveZeroOutputInfiniteLseAndZeroGradients(AttentionDtype dtype, int vectorBits)
    {
        if (!Widths().Contains(vectorBits)) Assert.Ignore($"this CPU does not run {vectorBits}-bit vectors");
        var shape = new AttentionShape(1, 150, 20, 2, 1, 48);
        var c = new AttentionCase(shape, dtype, Causal: true, BottomRight: true, Deterministic: false, Seed: 11);
        var run = new AttentionRun(c);
        var ours = run.Kernels(_accelerator, backward: true, new CpuAttentionKernels(2, vectorBits));
        int masked = shape.SeqLenQ - shape.SeqLenK;
        for (int h = 0; h < shape.HeadsQ; h++)
            for (int i = 0; i < shape.SeqLenQ; i++)
            {
                double l = ours.Lse[h * shape.SeqLenQ + i];
                Assert.That(i < masked ? double.IsPositiveInfinity(l) : double.IsFinite(l), $"L[{h},{i}] = {l}");
                long first = AttentionReference.QIndex(shape, 0, i, h);
                for (int x = 0; x < shape.HeadDim; x++)
                {
                    Assert.That(double.IsFinite(ours.Output[first + x]) && double.IsFinite(ours.Dq[first + x]), $"row {i} not finite");
                    if (i < masked) Assert.That(ours.Output[first + x] == 0 && ours.Dq[first + x] == 0, $"O/dQ[{i},{h},{x}] not 0");
                }
            }
        var reference = run.Reference(backward: true);
        var naive = run.Naive(backward: true);
        AttentionKernelTests.CheckAll(ours, naive, reference);
    }

    /// <summary>dQ's per-worker partials are summed in a fixed order: the gradients are bitwise the same run after run.</summary>
    [TestCase(false), TestCase(true)]
    public void BackwardIsBitwiseReproducible(bool deterministicFlag)
    {
        var c = new AttentionCase(new AttentionShape(2, 167, 291, 4, 2, 40), AttentionDtype.Fp32, Causal: true, BottomRight: true,
            Deterministic: deterministicFlag, Seed: 7);
        var images = new AttentionRun(c).BackwardBits(_accelerator, 10, x => x, new CpuAttentionKernels(3));
        for (int run = 1; run < images.Length; run++)
            Assert.That(images[run].Select(BitConverter.SingleToInt32Bits), Is.EqualTo(images[0].Select(BitConverter.SingleToInt32Bits)),
                $"run {run} differs from run 0");
    }

    /// <summary>Cases whose query blocks one worker runs several at a time (<see cref="ForwardPartition"/>): causal both
    /// alignments with rows that see no key, GQA, odd lengths, every dtype; then the window table.</summary>
    public static IEnumerable<TestCaseData> RunLengthTable()
    {
        TestCaseData Row(AttentionCase c) => new TestCaseData(c).SetName($"RunLength({c})");
        yield return Row(new AttentionCase(new AttentionShape(1, 300, 300, 4, 2, 64), AttentionDtype.Fp32, Causal: true, BottomRight: false,
            Deterministic: false, Seed: 31));
        yield return Row(new AttentionCase(new AttentionShape(2, 450, 200, 2, 1, 40), AttentionDtype.Fp16, Causal: true, BottomRight: true,
            Deterministic: false, Seed: 32));
        yield return Row(new AttentionCase(new AttentionShape(1, 260, 517, 3, 3, 128), AttentionDtype.Bf16, Causal: false, BottomRight: false,
            Deterministic: false, Seed: 33));
        foreach (var data in AttentionKernelTests.WindowTable()) yield return Row((AttentionCase)data.Arguments[0]!);
    }

    /// <summary>The forward's bits do not depend on how many query blocks a work unit runs: one worker (runs of up to four
    /// blocks) gives what 64 workers (runs of one) give.</summary>
    [TestCaseSource(nameof(RunLengthTable))]
    public void ForwardDoesNotDependOnTheRunLength(AttentionCase c)
    {
        var run = new AttentionRun(c);
        Assert.That(new ForwardPartition(new CpuAttentionLayout(run.Problem), 1).BlocksPerUnit, Is.GreaterThan(1), "one worker runs one block");
        Assert.That(new ForwardPartition(new CpuAttentionLayout(run.Problem), 64).BlocksPerUnit, Is.EqualTo(1), "64 workers run several blocks");
        var runs = run.Kernels(_accelerator, backward: false, new CpuAttentionKernels(1));
        var single = run.Kernels(_accelerator, backward: false, new CpuAttentionKernels(64));
        Assert.That(runs.Output, Is.EqualTo(single.Output), "O");
        Assert.That(runs.Lse, Is.EqualTo(single.Lse), "L");
    }

    /// <summary>The CPU path and the GPU kernels (on the emulating accelerator) agree within both their error budgets.</summary>
    [TestCase(1, 70, 130, 2, 1, 64, AttentionDtype.Fp32, true, false)]
    [TestCase(2, 33, 33, 2, 2, 40, AttentionDtype.Fp16, false, true)]
    [TestCase(1, 96, 50, 3, 1, 128, AttentionDtype.Bf16, true, true)]
    public void AgreesWithTheEmulatedKernels(int batch, int seqQ, int seqK, int headsQ, int headsKv, int headDim,
        AttentionDtype dtype, bool causal, bool bottomRight)
    {
        var c = new AttentionCase(new AttentionShape(batch, seqQ, seqK, headsQ, headsKv, headDim), dtype, causal, bottomRight,
            Deterministic: false, Seed: 21);
        var run = new AttentionRun(c);
        var cpu = run.Kernels(_accelerator, backward: true, new CpuAttentionKernels(2));
        var emulated = run.Kernels(_accelerator, backward: true);
        var reference = run.Reference(backward: true);
        var naive = run.Naive(backward: true);
        Parity("O", cpu.Output, emulated.Output, naive.Output, reference.Output, AttentionKernelTests.ForwardFactor);
        Parity("L", cpu.Lse, emulated.Lse, naive.Lse, reference.Lse, AttentionKernelTests.ForwardFactor);
        Parity("dQ", cpu.Dq, emulated.Dq, naive.Dq, reference.Dq, AttentionKernelTests.GradientFactor);
        Parity("dK", cpu.Dk, emulated.Dk, naive.Dk, reference.Dk, AttentionKernelTests.GradientFactor);
        Parity("dV", cpu.Dv, emulated.Dv, naive.Dv, reference.Dv, AttentionKernelTests.GradientFactor);
    }

    /// <summary>Each side may be factor · max|naive − fp64| + slack from fp64, so they may be twice that apart.</summary>
    private static void Parity(string name, double[] cpu, double[] emulated, double[] naive, double[] reference, double factor)
    {
        double apart = AttentionRun.MaxError(cpu, emulated);
        double budget = 2 * (factor * AttentionRun.MaxError(naive, reference) + AttentionKernelTests.Slack);
        Assert.That(apart, Is.LessThanOrEqualTo(budget), $"{name}: max|cpu − emulated| = {apart:E3} exceeds {budget:E3}");
    }
}
