using FlashAttn.Distributed;
using FlashAttn.Kernels;
using FlashAttn.Tests.Kernels;

namespace FlashAttn.Tests.Distributed;

/// <summary>
/// Ring attention on virtual ranks (<see cref="InProcessGroup"/>, one thread per rank): each rank's shard of the output,
/// log-sum-exp and gradients, put back at their global positions, against fp64 attention over the whole sequence,
/// under flash-attn's rule (<see cref="AttentionKernelTests.Check"/>). Odd chunk lengths, GQA, both layouts, every dtype.
/// </summary>
[TestFixture]
public class RingAttentionTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (var (ranks, sharding, causal) in new[]
                 {
                     (1, SequenceSharding.ZigZag, true), (2, SequenceSharding.ZigZag, true), (3, SequenceSharding.ZigZag, true),
                     (4, SequenceSharding.ZigZag, true), (3, SequenceSharding.Contiguous, true), (4, SequenceSharding.Contiguous, true),
                     (3, SequenceSharding.ZigZag, false), (2, SequenceSharding.Contiguous, false),
                 })
            yield return new TestCaseData(ranks, sharding, causal, AttentionDtype.Fp32, AttentionLayout.BatchSeqHeadDim);
        yield return new TestCaseData(4, SequenceSharding.ZigZag, true, AttentionDtype.Fp16, AttentionLayout.BatchSeqHeadDim);
        yield return new TestCaseData(3, SequenceSharding.ZigZag, true, AttentionDtype.Bf16, AttentionLayout.BatchSeqHeadDim);
        yield return new TestCaseData(2, SequenceSharding.Contiguous, true, AttentionDtype.Fp16, AttentionLayout.BatchSeqHeadDim);
        yield return new TestCaseData(3, SequenceSharding.ZigZag, true, AttentionDtype.Fp32, AttentionLayout.BatchHeadSeqDim);
        yield return new TestCaseData(2, SequenceSharding.ZigZag, false, AttentionDtype.Bf16, AttentionLayout.BatchHeadSeqDim);
    }

    [TestCaseSource(nameof(Cases))]
    public void ShardsMatchWholeSequenceAttention(int ranks, SequenceSharding sharding, bool causal, AttentionDtype dtype, AttentionLayout layout)
    {
        int chunks = ranks * (sharding == SequenceSharding.ZigZag ? 2 : 1);
        var shape = new AttentionShape(2, 13 * chunks, 13 * chunks, 4, 2, 24, layout);
        var run = new AttentionRun(new AttentionCase(shape, dtype, causal, BottomRight: true, Deterministic: false, Seed: 31 + ranks));
        using var device = Device.Cpu(1);
        var ours = dtype switch
        {
            AttentionDtype.Fp16 => RunRing<Half>(device, run, ranks, sharding),
            AttentionDtype.Bf16 => RunRing<BFloat16>(device, run, ranks, sharding),
            _ => RunRing<float>(device, run, ranks, sharding),
        };
        var reference = run.Reference(backward: true);
        var naive = run.Naive(backward: true);
        AttentionKernelTests.CheckAll(ours, naive, reference);
    }

    /// <summary>The GPU kernels (emulated) behind every block of the ring, and its element-wise kernels.</summary>
    [Test]
    public void RunsTheGpuKernelsOnTheEmulator()
    {
        var shape = new AttentionShape(1, 20, 20, 2, 1, 16);
        var run = new AttentionRun(new AttentionCase(shape, AttentionDtype.Fp16, Causal: true, BottomRight: true, Deterministic: true, Seed: 5));
        using var device = Device.CpuEmulator();
        var ours = RunRing<Half>(device, run, 2, SequenceSharding.ZigZag);
        var reference = run.Reference(backward: true);
        var naive = run.Naive(backward: true);
        AttentionKernelTests.CheckAll(ours, naive, reference);
    }

    [Test]
    public void SoftcapMatchesTheSingleDeviceCall()
    {
        var shape = new AttentionShape(1, 24, 24, 2, 2, 16);
        var run = new AttentionRun(new AttentionCase(shape, AttentionDtype.Fp32, Causal: true, BottomRight: true, Deterministic: true, Seed: 9));
        using var device = Device.Cpu(1);
        var options = new AttentionOptions { Causal = true, Softcap = 2f, ReturnLse = true };
        var ours = RunRing<float>(device, run, 3, SequenceSharding.ZigZag, options);
        using var q = DeviceTensor.Upload<float>(device, run.Q, 1, 24, 2, 16);
        using var k = DeviceTensor.Upload<float>(device, run.K, 1, 24, 2, 16);
        using var v = DeviceTensor.Upload<float>(device, run.V, 1, 24, 2, 16);
        using var dOut = DeviceTensor.Upload<float>(device, run.DOutput, 1, 24, 2, 16);
        using var single = FlashAttention.Forward(q, k, v, options);
        using var grads = FlashAttention.Backward(dOut, q, k, v, single.Output, single.Lse!, options);
        Assert.That(ours.Output, Is.EqualTo(single.Output.ToArray().Select(x => (double)x)).Within(1e-5));
        Assert.That(ours.Lse, Is.EqualTo(single.Lse!.ToArray().Select(x => (double)x)).Within(1e-5));
        Assert.That(ours.Dq, Is.EqualTo(grads.DQ.ToArray().Select(x => (double)x)).Within(1e-4));
        Assert.That(ours.Dk, Is.EqualTo(grads.DK.ToArray().Select(x => (double)x)).Within(1e-4));
    }

    [Test]
    public void DeterministicBackwardIsBitwiseReproducible()
    {
        var shape = new AttentionShape(1, 32, 32, 2, 1, 16);
        var run = new AttentionRun(new AttentionCase(shape, AttentionDtype.Bf16, Causal: true, BottomRight: true, Deterministic: true, Seed: 3));
        using var device = Device.Cpu(2);
        var options = new AttentionOptions { Causal = true, Deterministic = true, ReturnLse = true };
        var first = RunRing<BFloat16>(device, run, 4, SequenceSharding.ZigZag, options);
        var second = RunRing<BFloat16>(device, run, 4, SequenceSharding.ZigZag, options);
        Assert.That(second.Dq, Is.EqualTo(first.Dq));
        Assert.That(second.Dk, Is.EqualTo(first.Dk));
        Assert.That(second.Dv, Is.EqualTo(first.Dv));
    }

    /// <summary>ForwardForTraining with a group: its backward (allocating, and into given tensors) is the ring backward.</summary>
    [Test]
    public void TrainingAttentionRunsTheRingBackward()
    {
        var shape = new AttentionShape(1, 24, 24, 2, 1, 16);
        var run = new AttentionRun(new AttentionCase(shape, AttentionDtype.Fp32, Causal: true, BottomRight: true, Deterministic: true, Seed: 4));
        using var device = Device.Cpu(1);
        var options = new AttentionOptions { Causal = true };
        var expected = RunRing<float>(device, run, 2, SequenceSharding.ZigZag, options with { ReturnLse = true });
        var groups = InProcessGroup.Create(device, 2);
        var shards = RankThreads.RunAll(2, rank =>
        {
            var parallel = new ContextParallel(groups[rank]);
            int[] positions = parallel.LocalPositions(24);
            DeviceTensor<float> Upload(float[] global, int heads) =>
                DeviceTensor.Upload<float>(device, SequenceShards.Gather<float>(global, positions, 1, heads, 16, shape.Layout), 1, 12, heads, 16);
            using var q = Upload(run.Q, 2);
            using var k = Upload(run.K, 1);
            using var v = Upload(run.V, 1);
            using var dOut = Upload(run.DOutput, 2);
            using var training = FlashAttention.ForwardForTraining(q, k, v, options, parallel);
            using var grads = training.Backward(dOut);
            using var dq = DeviceTensor.Empty<float>(device, 1, 12, 2, 16);
            using var dk = DeviceTensor.Empty<float>(device, 1, 12, 1, 16);
            using var dv = DeviceTensor.Empty<float>(device, 1, 12, 1, 16);
            training.Backward(dOut, dq, dk, dv);
            using var wrong = DeviceTensor.Empty<float>(device, 1, 12, 2, 16);
            var refused = Assert.Throws<ArgumentException>(() => training.Backward(dOut, dq, wrong, dv));
            return (positions, Dq: grads.DQ.ToArray(), Into: dq.ToArray(), Dk: dk.ToArray(), refused!.ParamName);
        });
        foreach (var shard in shards)
        {
            Assert.That(shard.Into, Is.EqualTo(shard.Dq), "into = allocated");
            Assert.That(shard.Dq.Select(x => (double)x),
                Is.EqualTo(SequenceShards.Gather<double>(expected.Dq, shard.positions, 1, 2, 16, shape.Layout)), "the ring backward's dq");
            Assert.That(shard.Dk.Select(x => (double)x), Is.EqualTo(SequenceShards.Gather<double>(expected.Dk, shard.positions, 1, 1, 16, shape.Layout)));
            Assert.That(shard.ParamName, Is.EqualTo("dk"));
        }
    }

    /// <summary>Shards the run's global inputs over <paramref name="ranks"/> virtual ranks on <paramref name="device"/>, runs
    /// the ring forward and backward, and puts the shards' results back at their global positions.</summary>
    internal static Kernels.AttentionResult RunRing<T>(Device device, AttentionRun run, int ranks, SequenceSharding sharding,
        AttentionOptions? options = null) where T : unmanaged
    {
        var groups = InProcessGroup.Create(device, ranks);
        try
        {
            return RunRing<T>(groups, run, sharding, options);
        }
        finally
        {
            foreach (var g in groups) g.Dispose();
        }
    }

    /// <summary>As <see cref="RunRing{T}(Device, AttentionRun, int, SequenceSharding, AttentionOptions?)"/> over given ranks
    /// (rank i on groups[i].Device).</summary>
    internal static Kernels.AttentionResult RunRing<T>(IReadOnlyList<ProcessGroup> groups, AttentionRun run, SequenceSharding sharding,
        AttentionOptions? options = null) where T : unmanaged
    {
        var s = run.Case.Shape;
        options ??= new AttentionOptions { Causal = run.Case.Causal, ReturnLse = true, Layout = s.Layout };
        int ranks = groups.Count;
        var shards = RankThreads.RunAll(ranks, rank =>
        {
            var device = groups[rank].Device;
            var parallel = new ContextParallel(groups[rank], sharding);
            int[] positions = parallel.LocalPositions(s.SeqLenQ);
            int[] qShape = s.Layout.Shape(s.Batch, positions.Length, s.HeadsQ, s.HeadDim);
            int[] kShape = s.Layout.Shape(s.Batch, positions.Length, s.HeadsKV, s.HeadDim);
            DeviceTensor<T> Upload(float[] global, int heads, int[] shape) => DeviceTensor.Upload<T>(device,
                Array.ConvertAll(SequenceShards.Gather<float>(global, positions, s.Batch, heads, s.HeadDim, s.Layout), x => DTypes.FromDouble<T>(x)), shape);
            using var q = Upload(run.Q, s.HeadsQ, qShape);
            using var k = Upload(run.K, s.HeadsKV, kShape);
            using var v = Upload(run.V, s.HeadsKV, kShape);
            using var dOut = Upload(run.DOutput, s.HeadsQ, qShape);
            using var forward = FlashAttention.Forward(q, k, v, options, parallel);
            using var grads = FlashAttention.Backward(dOut, q, k, v, forward.Output, forward.Lse!, options, parallel);
            double[] Read(DeviceTensor<T> t) => Array.ConvertAll(t.ToArray(), x => DTypes.ToDouble(x));
            return (positions, O: Read(forward.Output), L: Array.ConvertAll(forward.Lse!.ToArray(), x => (double)x),
                Dq: Read(grads.DQ), Dk: Read(grads.DK), Dv: Read(grads.DV));
        });
        var result = new Kernels.AttentionResult
        {
            Output = new double[run.Q.Length], Lse = new double[(long)s.Batch * s.HeadsQ * s.SeqLenQ],
            Dq = new double[run.Q.Length], Dk = new double[run.K.Length], Dv = new double[run.V.Length],
        };
        foreach (var shard in shards)
        {
            SequenceShards.Scatter<double>(shard.O, result.Output, shard.positions, s.Batch, s.HeadsQ, s.HeadDim, s.Layout);
            SequenceShards.Scatter<double>(shard.Dq, result.Dq, shard.positions, s.Batch, s.HeadsQ, s.HeadDim, s.Layout);
            SequenceShards.Scatter<double>(shard.Dk, result.Dk, shard.positions, s.Batch, s.HeadsKV, s.HeadDim, s.Layout);
            SequenceShards.Scatter<double>(shard.Dv, result.Dv, shard.positions, s.Batch, s.HeadsKV, s.HeadDim, s.Layout);
            // the log-sum-exp (b, h, s) is the (b, h, s, 1) layout
            SequenceShards.Scatter<double>(shard.L, result.Lse, shard.positions, s.Batch, s.HeadsQ, 1, AttentionLayout.BatchHeadSeqDim);
        }
        return result;
    }
}
