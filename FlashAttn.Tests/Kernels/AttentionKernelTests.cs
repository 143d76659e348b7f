using System.Diagnostics;
using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cpu;
using FlashAttn.Tests.Support;
using FlashAttn.Kernels;
using FlashAttn.Kernels.Reference;

namespace FlashAttn.Tests.Kernels;

/// <summary>
/// The attention kernels on the test accelerator (CPU; CUDA with FLASHATTN_TEST_DEVICE=cuda) against the fp64 reference, with flash-attn's acceptance
/// rule: max|ours − fp64| ≤ 2× (forward) / 3× (gradients) max|naive same-dtype − fp64| + 1e-5.
/// </summary>
public class AttentionKernelTests : TestAcceleratorFixture
{
    internal const double ForwardFactor = 2, GradientFactor = 3, Slack = 1e-5;

    /// <summary>flash-attn's (s_q, s_k) pairs.</summary>
    private static readonly (int Q, int K)[] SeqLens =
        [(113, 203), (128, 217), (113, 211), (108, 256), (256, 512), (512, 256), (1, 239), (3, 799), (127, 512), (127, 513), (239, 1)];

    private static readonly int[] HeadDims = [32, 40, 59, 64, 80, 96, 111, 128, 160, 192, 224, 256];

    /// <summary>(h_q, h_kv): MHA, GQA, MQA.</summary>
    private static readonly (int Q, int KV)[] Heads = [(2, 2), (4, 2), (3, 1)];

    /// <summary>Work cap per case (b·h_q·s_q·s_k·d) so the table stays within minutes on 2 cores.</summary>
    private const long WorkCap = 16_000_000;

    /// <summary>
    /// Every seqlen pair with three head dims (rotating through all twelve, so each appears 2–3 times);
    /// dtype, causal alignment, head layout, batch, determinism and tensor layout (a third of the rows (b, h, s, d): the
    /// reference reads it through the same <c>TokenLayout</c>; LayoutTests check that against a host permutation) rotate
    /// independently across the rows.
    /// </summary>
    public static IEnumerable<TestCaseData> Table()
    {
        int row = 0;
        for (int s = 0; s < SeqLens.Length; s++)
            for (int n = 0; n < 3; n++, row++)
            {
                var (sq, sk) = SeqLens[s];
                int d = HeadDims[(s * 3 + n) % HeadDims.Length];
                var (hq, hkv) = Heads[(s + n) % Heads.Length];
                int batch = 1 + (s + n + 1) % 2;
                // shrink batch, then heads, for the largest shapes
                while ((long)batch * hq * sq * sk * d > WorkCap && batch > 1) batch--;
                if ((long)batch * hq * sq * sk * d > WorkCap) (hq, hkv) = hkv == 1 ? (2, 1) : (1, 1);
                var dtype = (AttentionDtype)n;
                int mode = (s + 3 * n) % 4; // 0 plain, 1 causal bottom-right, 2 causal top-left, 3 causal bottom-right
                var layout = (s + 2 * n) % 3 == 2 ? AttentionLayout.BatchHeadSeqDim : AttentionLayout.BatchSeqHeadDim;
                var c = new AttentionCase(new AttentionShape(batch, sq, sk, hq, hkv, d, layout), dtype,
                    Causal: mode != 0, BottomRight: mode != 2, Deterministic: row % 5 == 4, Seed: 1000 + row);
                yield return new TestCaseData(c).SetName($"Attention({c})");
            }
    }

    [TestCaseSource(nameof(Table))]
    public void MatchesReference(AttentionCase c)
    {
        var watch = Stopwatch.StartNew();
        var run = new AttentionRun(c);
        var ours = run.Kernels(_accelerator, backward: true);
        double kernelSeconds = watch.Elapsed.TotalSeconds;
        var reference = run.Reference(backward: true);
        var naive = run.Naive(backward: true);
        TestContext.Out.WriteLine($"{c}: kernels {kernelSeconds:F2} s, total {watch.Elapsed.TotalSeconds:F2} s");
        CheckAll(ours, naive, reference);
    }

    /// <summary>
    /// A device with an A100's 163 KB of shared memory per group (the CPU accelerator reporting that limit): the backward takes
    /// its 4-warp tiles (Bc = 64; above d' = 128 two column groups per key block) where the 8-warp ones need more, the forward
    /// its 4-warp tile at d' = 256 (d' = 208 still fits the 8-warp one), and they meet the same rule.
    /// </summary>
    [TestCase(AttentionDtype.Fp16, 64, false)]
    [TestCase(AttentionDtype.Bf16, 128, true)]
    [TestCase(AttentionDtype.Fp16, 200, true)]
    [TestCase(AttentionDtype.Bf16, 256, false)]
    public void SmallSharedMemoryTilesMatchReference(AttentionDtype dtype, int headDim, bool causal)
    {
        const int sharedBytes = 163 * 1024;
        var tile = TensorCoreTile.ForBackward(headDim, 2, sharedBytes);
        Assert.That(tile.Warps, Is.EqualTo(4), "the 8-warp tile needs more than 163 KB");
        Assert.That(TensorCoreTile.ForForward(headDim, maxSharedBytes: sharedBytes).Warps, Is.EqualTo(headDim is > 128 and <= 208 ? 8 : 4), "the forward's tile");
        using var accelerator = new CpuAccelerator(sharedBytes);
        var c = new AttentionCase(new AttentionShape(1, 97, 150, 3, 1, headDim), dtype, causal, BottomRight: true, Deterministic: false, Seed: 4242 + headDim);
        var run = new AttentionRun(c);
        CheckAll(run.Kernels(accelerator, backward: true), run.Naive(backward: true), run.Reference(backward: true));
    }

    /// <summary>
    /// fp32 on the tensor cores (3×TF32) against the same rule as exact fp32 — error ≤ 2× / 3× the naive fp32 error: odd
    /// lengths, s_q ≠ s_k both ways, every tile shape (d' 32 … 256, fp32's own block sizes), GQA/MQA, causal in both
    /// alignments, the deterministic dQ pass, unaligned head dims (element-wise staging).
    /// </summary>
    public static IEnumerable<TestCaseData> SplitTf32Table()
    {
        TestCaseData Row(int batch, int sq, int sk, int hq, int hkv, int d, int mode, bool deterministic)
        {
            var c = new AttentionCase(new AttentionShape(batch, sq, sk, hq, hkv, d), AttentionDtype.Fp32, Causal: mode != 0, BottomRight: mode != 2,
                deterministic, Seed: 7000 + sq + sk + d, Fp32Math: Fp32Math.TensorCores);
            return new TestCaseData(c).SetName($"SplitTf32({c})");
        }
        yield return Row(2, 113, 203, 2, 2, 32, mode: 0, deterministic: false);
        yield return Row(1, 128, 217, 4, 2, 64, mode: 1, deterministic: false);
        yield return Row(1, 239, 67, 3, 1, 59, mode: 2, deterministic: true);
        yield return Row(1, 97, 130, 2, 1, 96, mode: 1, deterministic: false);
        yield return Row(1, 70, 150, 2, 2, 128, mode: 0, deterministic: false);
        yield return Row(1, 65, 80, 2, 1, 160, mode: 2, deterministic: false);
        yield return Row(1, 40, 73, 1, 1, 256, mode: 1, deterministic: true);
    }

    [TestCaseSource(nameof(SplitTf32Table))]
    public void SplitTf32MatchesReference(AttentionCase c) => MatchesReference(c);

    /// <summary>
    /// 3×TF32 under the PyTorch oracle's stricter rule — normal inputs, slack 1e-6 instead of 1e-5 — with sequences long
    /// enough (hundreds of keys and queries) that accumulating O, dK and dV in the mma would drift past it: under the CPU's
    /// model of the mma's truncating accumulation (<see cref="TensorCore"/>) that kernel gave 4.5–26× naive fp32's error
    /// here, as the H200 gave 2.5–12× on the oracle (2026-12-05).
    /// </summary>
    [TestCase(333, 555, 2, 2, 64, 1)]
    [TestCase(333, 555, 2, 1, 128, 0)]
    [TestCase(555, 333, 2, 2, 64, 2)]
    public void SplitTf32MeetsTheOracleRule(int sq, int sk, int hq, int hkv, int d, int mode)
    {
        var c = new AttentionCase(new AttentionShape(1, sq, sk, hq, hkv, d), AttentionDtype.Fp32, Causal: mode != 0, BottomRight: mode != 2,
            Deterministic: false, Seed: 7000 + sq + sk + d, Fp32Math: Fp32Math.TensorCores);
        var run = AttentionRun.Normal(c);
        var ours = run.Kernels(_accelerator, backward: true);
        var reference = run.Reference(backward: true);
        var naive = run.Naive(backward: true);
        Check("O", ours.Output, naive.Output, reference.Output, ForwardFactor, OracleSlack);
        Check("L", ours.Lse, naive.Lse, reference.Lse, ForwardFactor, OracleSlack);
        Check("dQ", ours.Dq, naive.Dq, reference.Dq, GradientFactor, OracleSlack);
        Check("dK", ours.Dk, naive.Dk, reference.Dk, GradientFactor, OracleSlack);
        Check("dV", ours.Dv, naive.Dv, reference.Dv, GradientFactor, OracleSlack);
    }

    /// <summary>The PyTorch oracle's fp32 slack (scripts/gpu/torch_oracle.py).</summary>
    private const double OracleSlack = 1e-6;

    /// <summary>
    /// Sliding windows (flash-attn's window_size) on each kernel family — fp32 FFMA (never the register-tiled kernels: d 32
    /// and 64 would take them without a window), fp16/bf16 tensor cores: left only, right only, both, with causal, s_q ≠ s_k
    /// in both alignments, an edge past every length, and windows so narrow that some rows see no key.
    /// </summary>
    public static IEnumerable<TestCaseData> WindowTable()
    {
        TestCaseData Row(int sq, int sk, int hq, int hkv, int d, AttentionDtype dtype, bool causal, bool bottomRight, int left, int right,
            bool deterministic = false, bool emptyRows = false)
        {
            var c = new AttentionCase(new AttentionShape(1, sq, sk, hq, hkv, d), dtype, causal, bottomRight, deterministic, Seed: 5000 + sq + sk + d,
                WindowLeft: left, WindowRight: right);
            return new TestCaseData(c, emptyRows).SetName($"Window({c})");
        }
        yield return Row(96, 96, 2, 1, 32, AttentionDtype.Fp32, causal: false, bottomRight: true, left: 20, right: -1);
        yield return Row(80, 150, 2, 2, 40, AttentionDtype.Fp16, causal: false, bottomRight: true, left: -1, right: 7);
        yield return Row(130, 130, 2, 1, 48, AttentionDtype.Bf16, causal: false, bottomRight: true, left: 17, right: 5, deterministic: true);
        yield return Row(70, 160, 2, 1, 64, AttentionDtype.Fp32, causal: true, bottomRight: true, left: 30, right: -1, deterministic: true);
        // top-left with s_q > s_k: rows i ≥ s_k + left start past s_k
        yield return Row(160, 70, 2, 1, 32, AttentionDtype.Fp16, causal: true, bottomRight: false, left: 25, right: -1, emptyRows: true);
        yield return Row(120, 70, 2, 2, 40, AttentionDtype.Bf16, causal: false, bottomRight: false, left: 8, right: 3, emptyRows: true);
        yield return Row(70, 90, 2, 1, 40, AttentionDtype.Fp32, causal: false, bottomRight: false, left: int.MaxValue, right: int.MaxValue);
        // windows of a key or a few: rows i < 90 end before key 0 (bottom-right, offset −90); rows i ≥ 65 start past s_k (top-left)
        yield return Row(150, 60, 2, 1, 32, AttentionDtype.Fp32, causal: false, bottomRight: true, left: 0, right: 0, emptyRows: true);
        yield return Row(150, 60, 2, 1, 40, AttentionDtype.Bf16, causal: false, bottomRight: false, left: 5, right: 0, emptyRows: true);
        yield return Row(150, 60, 2, 1, 64, AttentionDtype.Fp16, causal: true, bottomRight: true, left: 3, right: -1, emptyRows: true);
        yield return Row(150, 60, 2, 1, 59, AttentionDtype.Fp32, causal: false, bottomRight: false, left: 5, right: 2, emptyRows: true, deterministic: true);
    }

    [TestCaseSource(nameof(WindowTable))]
    public void WindowMatchesReference(AttentionCase c, bool emptyRows) => CheckWindow(c, emptyRows, new AttentionRun(c).Kernels(_accelerator, backward: true));

    /// <summary>The table's rule, and rows that see no key give O = 0, L = +∞, dQ = 0 (and there are some when
    /// <paramref name="emptyRows"/>).</summary>
    internal static void CheckWindow(AttentionCase c, bool emptyRows, AttentionResult ours)
    {
        var run = new AttentionRun(c);
        var reference = run.Reference(backward: true);
        var naive = run.Naive(backward: true);
        var shape = c.Shape;
        int empty = 0;
        for (int h = 0; h < shape.HeadsQ; h++)
            for (int i = 0; i < shape.SeqLenQ; i++)
            {
                if (!double.IsPositiveInfinity(reference.Lse[h * shape.SeqLenQ + i])) continue;
                empty++;
                Assert.That(ours.Lse[h * shape.SeqLenQ + i], Is.EqualTo(double.PositiveInfinity), $"L[{h},{i}]");
                long first = AttentionReference.QIndex(shape, 0, i, h);
                for (int x = 0; x < shape.HeadDim; x++)
                    Assert.That((ours.Output[first + x], ours.Dq[first + x]), Is.EqualTo((0.0, 0.0)), $"O, dQ[{i},{h},{x}]");
            }
        Assert.That(empty > 0, Is.EqualTo(emptyRows), $"{empty} rows see no key");
        CheckAll(ours, naive, reference);
    }

    /// <summary>The acceptance rule on the output, log-sum-exp and the three gradients.</summary>
    internal static void CheckAll(AttentionResult ours, AttentionResult naive, AttentionResult reference)
    {
        Check("O", ours.Output, naive.Output, reference.Output, ForwardFactor);
        Check("L", ours.Lse, naive.Lse, reference.Lse, ForwardFactor);
        Check("dQ", ours.Dq, naive.Dq, reference.Dq, GradientFactor);
        Check("dK", ours.Dk, naive.Dk, reference.Dk, GradientFactor);
        Check("dV", ours.Dv, naive.Dv, reference.Dv, GradientFactor);
    }

    /// <summary>The acceptance rule: max|ours − fp64| ≤ factor · max|naive − fp64| + <paramref name="slack"/>.</summary>
    internal static void Check(string name, double[] ours, double[] naive, double[] reference, double factor, double slack = Slack)
    {
        double error = AttentionRun.MaxError(ours, reference);
        double budget = factor * AttentionRun.MaxError(naive, reference) + slack;
        TestContext.Out.WriteLine($"  {name}: error {error:E2}, budget {budget:E2}");
        Assert.That(error, Is.LessThanOrEqualTo(budget), $"{name}: max|ours − fp64| = {error:E3} exceeds {budget:E3}");
    }

    [Test]
    public void DeterministicBackwardIsBitwiseReproducible()
    {
        var c = new AttentionCase(new AttentionShape(2, 67, 91, 4, 2, 40), AttentionDtype.Fp32, Causal: true, BottomRight: true,
            Deterministic: true, Seed: 7);
        var images = new AttentionRun(c).BackwardBits(_accelerator, 20, x => x);
        for (int run = 1; run < images.Length; run++)
            Assert.That(images[run].Select(BitConverter.SingleToInt32Bits), Is.EqualTo(images[0].Select(BitConverter.SingleToInt32Bits)),
                $"run {run} differs from run 0");
    }

    /// <summary>Causal bottom-right with s_q &gt; s_k: the first s_q − s_k rows see no key.</summary>
    [TestCase(AttentionDtype.Fp32, false)]
    [TestCase(AttentionDtype.Bf16, true)]
    [TestCase(AttentionDtype.Fp16, false)]
    public void FullyMaskedRowsGiveZeroOutputInfiniteLseAndZeroGradients(AttentionDtype dtype, bool deterministic)
    {
        var shape = new AttentionShape(1, 90, 20, 2, 1, 48);
        var c = new AttentionCase(shape, dtype, Causal: true, BottomRight: true, Deterministic: deterministic, Seed: 11);
        var run = new AttentionRun(c);
        var ours = run.Kernels(_accelerator, backward: true);
        var reference = run.Reference(backward: true);
        int masked = shape.SeqLenQ - shape.SeqLenK;
        for (int h = 0; h < shape.HeadsQ; h++)
            for (int i = 0; i < shape.SeqLenQ; i++)
            {
                double l = ours.Lse[h * shape.SeqLenQ + i];
                if (i < masked) Assert.That(double.IsPositiveInfinity(l), $"L[{h},{i}] = {l}");
                else Assert.That(double.IsFinite(l), $"L[{h},{i}] = {l}");
                long first = AttentionReference.QIndex(shape, 0, i, h);
                for (int x = 0; x < shape.HeadDim; x++)
                {
                    Assert.That(double.IsFinite(ours.Dq[first + x]), $"dQ[{i},{h},{x}] not finite");
                    if (i < masked)
                    {
                        Assert.That(ours.Output[first + x], Is.Zero, $"O[{i},{h},{x}]");
                        Assert.That(ours.Dq[first + x], Is.Zero, $"dQ[{i},{h},{x}]");
                    }
                }
            }
        Assert.That(ours.Dk.All(double.IsFinite) && ours.Dv.All(double.IsFinite), "dK/dV not finite");
        // and the visible part still matches the reference
        var naive = run.Naive(backward: true);
        Check("O", ours.Output, naive.Output, reference.Output, ForwardFactor);
        Check("dK", ours.Dk, naive.Dk, reference.Dk, GradientFactor);
    }

    /// <summary>Central differences of the fp64 forward check the fp64 analytic gradients, and our fp32 kernels' gradients.</summary>
    [TestCase(true, true)]
    [TestCase(true, false)]
    [TestCase(false, true)]
    public void GradientsMatchFiniteDifferences(bool causal, bool bottomRight)
    {
        var shape = new AttentionShape(1, 5, 7, 2, 1, 3);
        var c = new AttentionCase(shape, AttentionDtype.Fp32, causal, bottomRight, Deterministic: false, Seed: 3);
        var run = new AttentionRun(c);
        double[] q = Array.ConvertAll(run.Q, x => (double)x), k = Array.ConvertAll(run.K, x => (double)x),
            v = Array.ConvertAll(run.V, x => (double)x), dO = Array.ConvertAll(run.DOutput, x => (double)x);
        var reference = run.Reference(backward: true);
        var ours = run.Kernels(_accelerator, backward: true);

        // loss = Σ O ∘ dO, so ∂loss/∂x is the gradient the backward returns for upstream gradient dO
        double Loss()
        {
            var o = new double[q.Length];
            AttentionReference.Forward(shape, c.Settings, q, k, v, o, new double[shape.HeadsQ * shape.SeqLenQ]);
            double sum = 0;
            for (int i = 0; i < o.Length; i++) sum += o[i] * dO[i];
            return sum;
        }
        const double h = 1e-5;
        foreach (var (input, analytic, ourGradient, name) in new[] { (q, reference.Dq, ours.Dq, "dQ"), (k, reference.Dk, ours.Dk, "dK"), (v, reference.Dv, ours.Dv, "dV") })
            for (int e = 0; e < input.Length; e++)
            {
                double saved = input[e];
                input[e] = saved + h;
                double plus = Loss();
                input[e] = saved - h;
                double minus = Loss();
                input[e] = saved;
                double numeric = (plus - minus) / (2 * h);
                Assert.That(analytic[e], Is.EqualTo(numeric).Within(1e-7 + 1e-6 * Math.Abs(numeric)), $"fp64 {name}[{e}]");
                Assert.That(ourGradient[e], Is.EqualTo(numeric).Within(2e-5 + 1e-5 * Math.Abs(numeric)), $"kernel {name}[{e}]");
            }
    }

    [Test]
    public void UnsupportedElementTypeIsAnArgumentException()
    {
        var shape = new AttentionShape(1, 4, 4, 1, 1, 8);
        using var buffer = _accelerator.Allocate<double>(32);
        using var lse = _accelerator.Allocate<float>(4);
        Assert.Throws<ArgumentException>(() => AttentionLauncher.Forward(_accelerator, shape, new AttentionSettings(1f, false),
            buffer.View, buffer.View, buffer.View, buffer.View, lse.View));
    }

    [Test]
    public void TileConfigsFitTheGroupLimits([Range(1, 256)] int headDim)
    {
        foreach (var tile in new[] { AttentionTileConfig.ForForward(headDim, 2), AttentionTileConfig.ForBackward(headDim, 2) })
        {
            Assert.That(tile.Threads, Is.LessThanOrEqualTo(AttentionTileConfig.MaxThreads));
            Assert.That(Math.Max(tile.ForwardSharedBytes, tile.BackwardSharedBytes), Is.LessThanOrEqualTo(AttentionTileConfig.MaxSharedBytes));
            Assert.That(tile.HeadDimPadded, Is.GreaterThanOrEqualTo(headDim));
            Assert.That(tile.HeadDimPadded % tile.ThreadsPerRow, Is.Zero);
            Assert.That(tile.BlockRows % tile.RowThreads + tile.BlockCols % tile.RowThreads + tile.BlockCols % tile.ThreadsPerRow, Is.Zero);
            Assert.That(Warp.Size % tile.ThreadsPerRow, Is.Zero);
        }
    }

    [Test]
    public void BackwardWarpGridsTileTheBlock([Values(2, 4)] int elementBytes, [Values(1, 32, 59, 64, 96, 128, 160, 192, 256)] int headDim,
        [Values(AttentionTileConfig.MaxSharedBytes, 163 * 1024)] int maxSharedBytes)
    {
        var tile = TensorCoreTile.ForBackward(headDim, elementBytes, maxSharedBytes);
        Assert.Multiple(() =>
        {
            AssertBackwardWarpGridsTileTheBlock(tile);
            if (tile.Warps == 4 && TensorCoreTile.ForBackward(headDim, elementBytes).Warps == 8)
                Assert.That(tile.BackwardSharedBytes, Is.LessThanOrEqualTo(maxSharedBytes), "the 4-warp tile where 8 warps do not fit");
        });
    }

    /// <summary>dQ goes through the shared stage and bulk reductions (<see cref="TensorCoreTile.StagesDq"/>) at d' = 128 where the
    /// device has bulk copies and room for the stage beside the other tiles, and by atomics everywhere else; the stage's rows
    /// keep 16-byte alignment for the copy engine, and the launch asks for the stage's bytes on top.</summary>
    [TestCase(128, 2, AttentionTileConfig.MaxSharedBytes, true, true)]
    [TestCase(100, 2, AttentionTileConfig.MaxSharedBytes, true, true)]
    [TestCase(96, 2, AttentionTileConfig.MaxSharedBytes, true, false)]
    [TestCase(64, 2, AttentionTileConfig.MaxSharedBytes, true, false)]
    [TestCase(256, 2, AttentionTileConfig.MaxSharedBytes, true, false)]
    [TestCase(128, 2, 163 * 1024, true, true)] // the 4-warp tile (Bc = 64) leaves room for it
    [TestCase(128, 2, AttentionTileConfig.MaxSharedBytes, false, false)]
    [TestCase(128, 4, AttentionTileConfig.MaxSharedBytes, true, false)]
    public void DqIsStagedAtD128WithBulkCopiesAndRoom(int headDim, int elementBytes, int maxSharedBytes, bool hasBulkCopies, bool staged)
    {
        var tile = TensorCoreTile.ForBackward(headDim, elementBytes, maxSharedBytes);
        Assert.That(tile.StagesDq(maxSharedBytes, hasBulkCopies, chunked: true, accumulatesDq: true), Is.EqualTo(staged));
        Assert.That(tile.StagesDq(maxSharedBytes, hasBulkCopies, chunked: false, accumulatesDq: true), Is.False, "16-byte rows only");
        Assert.That(tile.StagesDq(maxSharedBytes, hasBulkCopies, chunked: true, accumulatesDq: false), Is.False, "deterministic: no dQ here");
        Assert.That(tile.DqStageStride * sizeof(float) % 16 + tile.BackwardSharedBytes % 16, Is.Zero, "16-byte aligned stage rows");
        Assert.That(tile.BackwardLaunchSharedBytes(staged), Is.EqualTo(tile.BackwardSharedBytes + (staged ? tile.DqStageBytes : 0)));
        if (staged) Assert.That(tile.BackwardLaunchSharedBytes(true), Is.LessThanOrEqualTo(maxSharedBytes));
    }

    /// <summary>Each of the backward's three warp grids covers its product exactly once, in whole fragments.</summary>
    private static void AssertBackwardWarpGridsTileTheBlock(TensorCoreTile tile)
    {
        int br = tile.BackwardBlockRows, bc = tile.BackwardBlockCols, columns = tile.SplitColumns, warps = tile.Warps;
        Assert.That((br / tile.ScoreWarpRows) * (bc / tile.ScoreWarpKeys), Is.EqualTo(warps), "Sᵀ and dPᵀ tiles cover Bc × Br");
        Assert.That(tile.ScoreWarpKeys % 16 + tile.ScoreWarpRows % 16, Is.Zero, "Sᵀ: m16 key tiles, x4 row pairs");
        Assert.That(tile.GradientKeyWarps * (columns / tile.GradientWarpColumns), Is.EqualTo(warps), "dV and dK tiles cover Bc × d'");
        Assert.That(tile.GradientWarpKeys % 16 + tile.GradientWarpColumns % 16 + columns % tile.GradientWarpColumns, Is.Zero, "dV, dK: whole x4 column pairs");
        Assert.That(tile.DqRowWarps * (columns / tile.DqWarpColumns), Is.EqualTo(warps), "dQ tiles cover Br × d'");
        Assert.That(tile.DqWarpRows % 16 + tile.DqWarpColumns % 16 + columns % tile.DqWarpColumns, Is.Zero, "dQ: whole x4 column pairs");
        Assert.That(br, Is.LessThanOrEqualTo(tile.Threads), "one thread per row statistic");
    }

    /// <summary>3×TF32's forward tiles: above d' = 64 up to 128, 8 warps that split K and V once per block into shared
    /// pairs (<see cref="Tf32SplitTiles"/>) where they fit, else 4 warps that split their own fragments (an A100).</summary>
    [TestCase(64, 4, false)]
    [TestCase(80, 8, true)]
    [TestCase(128, 8, true)]
    [TestCase(160, 4, false)]
    public void SplitTf32ForwardTilesSplitKeysAndValuesOnce(int headDim, int warps, bool splits)
    {
        var tile = TensorCoreTile.ForForward(headDim, elementBytes: sizeof(float));
        var a100 = TensorCoreTile.ForForward(headDim, elementBytes: sizeof(float), maxSharedBytes: 163 * 1024);
        Assert.Multiple(() =>
        {
            Assert.That(tile.Warps, Is.EqualTo(warps));
            Assert.That(tile.ForwardSplitsKeyValues, Is.EqualTo(splits));
            Assert.That(tile.ForwardSharedBytes, Is.LessThanOrEqualTo(AttentionTileConfig.MaxSharedBytes));
            Assert.That(a100.ForwardSharedBytes, Is.LessThanOrEqualTo(163 * 1024));
            Assert.That(TensorCoreTile.ForForward(headDim, decode: true, elementBytes: sizeof(float)).ForwardSplitsKeyValues, Is.False, "decoding");
            if (splits) Assert.That(tile.BlockRows, Is.EqualTo(128));
        });
    }

    [Test]
    public void TensorCoreTilesFitTheGroupLimits([Range(1, 256)] int headDim)
    {
        var forward = TensorCoreTile.ForForward(headDim);
        var backward = TensorCoreTile.ForBackward(headDim);
        Assert.Multiple(() =>
        {
            foreach (var tile in new[] { forward, backward })
            {
                Assert.That(tile.HeadDimPadded, Is.GreaterThanOrEqualTo(headDim));
                Assert.That(tile.HeadDimPadded % 16, Is.Zero, "k steps and ldmatrix.x4 cover 16 head dims");
                Assert.That(tile.Threads, Is.LessThanOrEqualTo(256), "the kernels' launch bounds");
                Assert.That(tile.Stride * 2 / 16 % 2, Is.EqualTo(1), "rows an odd number of 16-byte units apart: the 8 rows of an ldmatrix hit 8 different bank groups");
            }
            Assert.That(forward.ForwardSharedBytes * forward.ForwardGroupsPerMultiprocessor, Is.LessThanOrEqualTo(AttentionTileConfig.MaxSharedBytes),
                "the forward's groups per SM");
            Assert.That(forward.Warps, Is.EqualTo(forward.HeadDimPadded > 128 ? 8 : 4), "FA2's large-head forward tile above d' = 128");
            Assert.That(forward.BlockRows, Is.EqualTo(forward.HeadDimPadded > 128 ? 128 : 64 * forward.RowTilesPerWarp));
            var a100 = TensorCoreTile.ForForward(headDim, maxSharedBytes: 163 * 1024);
            Assert.That(a100.ForwardSharedBytes, Is.LessThanOrEqualTo(163 * 1024), "an A100's shared memory per group");
            Assert.That(backward.BackwardSharedBytes, Is.LessThanOrEqualTo(AttentionTileConfig.MaxSharedBytes));
            Assert.That(forward.BlockCols % 16, Is.Zero);
            AssertBackwardWarpGridsTileTheBlock(backward);
        });
    }
}
