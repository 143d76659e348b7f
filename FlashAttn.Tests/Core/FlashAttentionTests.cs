using FlashAttn.Compute;

namespace FlashAttn.Tests.Core;

/// <summary>
/// Forward and backward through the public API against fp64 attention, on the real CPU device (the attention
/// kernels) and on the host test device (the API's plumbing with reference kernels).
/// </summary>
public class FlashAttentionTests
{
    private static Device Make(string device) => device == "cpu" ? Device.Cpu() : TestDevices.Host();

    public sealed record Problem(int Batch, int SeqQ, int SeqK, int HeadsQ, int HeadsKv, int HeadDim)
    {
        internal ReferenceAttention.Sizes Sizes => new(Batch, SeqQ, SeqK, HeadsQ, HeadsKv, HeadDim);
        public int QLength => Batch * SeqQ * HeadsQ * HeadDim;
        public int KLength => Batch * SeqK * HeadsKv * HeadDim;
    }

    private static double Tolerance(DType dtype) => dtype switch { DType.Float32 => 2e-3, DType.Float16 => 1e-2, _ => 4e-2 };

    /// <summary>Random values rounded to the dtype; returns the device tensor and the rounded values in fp64.</summary>
    private static (DeviceTensor Tensor, double[] Values) Make(Device device, DType dtype, int seed, params int[] shape)
    {
        var raw = TestDevices.Random(shape.Aggregate(1, (a, b) => a * b), seed);
        switch (dtype)
        {
            case DType.Float32: return (DeviceTensor.Upload<float>(device, raw, shape), raw.Select(x => (double)x).ToArray());
            case DType.Float16:
                var h = raw.Select(x => (Half)x).ToArray();
                return (DeviceTensor.Upload<Half>(device, h, shape), h.Select(x => (double)x).ToArray());
            default:
                var b = raw.Select(x => (BFloat16)x).ToArray();
                return (DeviceTensor.Upload<BFloat16>(device, b, shape), b.Select(x => (double)(float)x).ToArray());
        }
    }

    private static double[] Read(DeviceTensor tensor) => tensor switch
    {
        DeviceTensor<float> f => f.ToArray().Select(x => (double)x).ToArray(),
        DeviceTensor<Half> h => h.ToArray().Select(x => (double)x).ToArray(),
        DeviceTensor<BFloat16> b => b.ToArray().Select(x => (double)(float)x).ToArray(),
        _ => throw new NotSupportedException(),
    };

    private static double MaxError(double[] actual, double[] expected)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length));
        double max = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (double.IsPositiveInfinity(expected[i]) && double.IsPositiveInfinity(actual[i])) continue;
            max = Math.Max(max, Math.Abs(actual[i] - expected[i]));
        }
        return max;
    }

    private static IEnumerable<TestCaseData> ForwardCases()
    {
        foreach (var device in new[] { "host", "cpu" })
        foreach (var dtype in new[] { DType.Float32, DType.Float16, DType.BFloat16 })
        {
            yield return new TestCaseData(device, dtype, new Problem(1, 17, 17, 2, 2, 16), false, CausalAlignment.BottomRight);
            yield return new TestCaseData(device, dtype, new Problem(2, 13, 21, 4, 2, 32), true, CausalAlignment.BottomRight);
        }
        yield return new TestCaseData("cpu", DType.Float32, new Problem(1, 21, 13, 4, 1, 8), true, CausalAlignment.TopLeft);
        yield return new TestCaseData("cpu", DType.Float32, new Problem(1, 9, 40, 3, 3, 64), false, CausalAlignment.TopLeft);
    }

    [TestCaseSource(nameof(ForwardCases))]
    public void ForwardMatchesFp64Attention(string deviceName, DType dtype, Problem p, bool causal, CausalAlignment alignment)
    {
        using var device = Make(deviceName);
        var (q, qv) = Make(device, dtype, 1, p.Batch, p.SeqQ, p.HeadsQ, p.HeadDim);
        var (k, kv) = Make(device, dtype, 2, p.Batch, p.SeqK, p.HeadsKv, p.HeadDim);
        var (v, vv) = Make(device, dtype, 3, p.Batch, p.SeqK, p.HeadsKv, p.HeadDim);
        using (q) using (k) using (v)
        {
            var options = new AttentionOptions { Causal = causal, CausalAlignment = alignment, ReturnLse = true };
            using var result = FlashAttention.Forward(q, k, v, options);
            var (o, lse) = ReferenceAttention.Forward(p.Sizes, qv, kv, vv, 1 / Math.Sqrt(p.HeadDim), causal,
                alignment == CausalAlignment.BottomRight);
            Assert.Multiple(() =>
            {
                Assert.That(result.Output.DType, Is.EqualTo(dtype));
                Assert.That(result.Output.GetShape(), Is.EqualTo(q.GetShape()));
                Assert.That(result.Lse!.GetShape(), Is.EqualTo(new[] { p.Batch, p.HeadsQ, p.SeqQ }));
                Assert.That(MaxError(Read(result.Output), o), Is.LessThan(Tolerance(dtype)), "output");
                Assert.That(MaxError(Read(result.Lse), lse), Is.LessThan(1e-3), "lse");
            });
        }
    }

    [TestCase("host"), TestCase("cpu")]
    public void FullyMaskedRowsGiveZeroOutputAndInfiniteLse(string deviceName)
    {
        using var device = Make(deviceName);
        var (q, _) = Make(device, DType.Float32, 1, 1, 6, 1, 8);
        var (k, _) = Make(device, DType.Float32, 2, 1, 3, 1, 8);
        using (q) using (k)
        {
            using var result = FlashAttention.Forward(q, k, k, new AttentionOptions { Causal = true, ReturnLse = true });
            var o = Read(result.Output);
            var lse = Read(result.Lse!);
            Assert.Multiple(() =>
            {
                // bottom-right: query i sees keys j <= i - 3, so rows 0..2 see nothing
                Assert.That(o.Take(3 * 8), Is.All.EqualTo(0.0));
                Assert.That(lse.Take(3), Is.All.EqualTo(double.PositiveInfinity));
                Assert.That(lse.Skip(3), Is.All.Matches<double>(double.IsFinite));
            });
        }
    }

    [TestCase("host"), TestCase("cpu")]
    public void TheSimpleOverloadAndTheOptionsOverloadAgreeAndFreeTheLse(string deviceName)
    {
        using var device = Make(deviceName);
        var (q, _) = Make(device, DType.Float16, 1, 1, 10, 2, 16);
        using (q)
        {
            long before = device.AllocatedBytes;
            var typed = (DeviceTensor<Half>)q;
            using var simple = FlashAttention.Forward(typed, typed, typed, causal: true);
            using var untyped = FlashAttention.Forward(q, q, q, true);
            using var withOptions = FlashAttention.Forward(typed, typed, typed, new AttentionOptions { Causal = true, Scale = 0.25f });
            Assert.Multiple(() =>
            {
                Assert.That(withOptions.Lse, Is.Null);
                Assert.That(device.AllocatedBytes - device.CachedBytes - before, Is.EqualTo(3 * q.SizeInBytes),
                    "only the three outputs remain (besides the workspaces cached for the next call)");
                Assert.That(Read(untyped), Is.EqualTo(Read(simple)));
                Assert.That(Read(withOptions.Output), Is.EqualTo(Read(simple)), "0.25 = 1/sqrt(16)");
            });
        }
    }

    [TestCase("host", DType.Float32, false, false), TestCase("cpu", DType.Float32, false, false)]
    [TestCase("cpu", DType.Float32, true, true), TestCase("cpu", DType.Float16, true, false)]
    [TestCase("cpu", DType.BFloat16, false, true), TestCase("host", DType.Float16, true, true)]
    public void BackwardMatchesFp64Gradients(string deviceName, DType dtype, bool causal, bool deterministic)
    {
        var p = new Problem(2, 11, 14, 4, 2, 16);
        using var device = Make(deviceName);
        var (q, qv) = Make(device, dtype, 1, p.Batch, p.SeqQ, p.HeadsQ, p.HeadDim);
        var (k, kv) = Make(device, dtype, 2, p.Batch, p.SeqK, p.HeadsKv, p.HeadDim);
        var (v, vv) = Make(device, dtype, 3, p.Batch, p.SeqK, p.HeadsKv, p.HeadDim);
        var (dOut, dv) = Make(device, dtype, 4, p.Batch, p.SeqQ, p.HeadsQ, p.HeadDim);
        using (q) using (k) using (v) using (dOut)
        {
            var options = new AttentionOptions { Causal = causal, Deterministic = deterministic, ReturnLse = true, Scale = 0.3f };
            using var forward = FlashAttention.Forward(q, k, v, options);
            using var grads = FlashAttention.Backward(dOut, q, k, v, forward.Output, forward.Lse!, options);
            var (gq, gk, gv) = ReferenceAttention.Backward(p.Sizes, qv, kv, vv, dv, 0.3f, causal, bottomRight: true);
            double tolerance = 2 * Tolerance(dtype);
            Assert.Multiple(() =>
            {
                Assert.That(grads.DQ.GetShape(), Is.EqualTo(q.GetShape()));
                Assert.That(grads.DK.GetShape(), Is.EqualTo(k.GetShape()));
                Assert.That(grads.DV.GetShape(), Is.EqualTo(v.GetShape()));
                Assert.That(MaxError(Read(grads.DQ), gq), Is.LessThan(tolerance), "dq");
                Assert.That(MaxError(Read(grads.DK), gk), Is.LessThan(tolerance), "dk");
                Assert.That(MaxError(Read(grads.DV), gv), Is.LessThan(tolerance), "dv");
            });
        }
    }

    [Test]
    public void DisposingTheGradientsFreesThem()
    {
        using var device = Device.CpuEmulator(); // the GPU kernels keep their backward workspaces cached
        using var q = DeviceTensor.Upload<float>(device, TestDevices.Random(64, 1), 1, 8, 1, 8);
        using var forward = FlashAttention.Forward(q, q, q, new AttentionOptions { ReturnLse = true });
        long before = device.AllocatedBytes;
        var grads = FlashAttention.Backward(q, q, q, q, forward.Output, forward.Lse!, AttentionOptions.Default);
        long cached = device.CachedBytes;
        Assert.That(cached, Is.Positive, "the backward's workspaces stay cached for the next call");
        Assert.That(device.AllocatedBytes, Is.EqualTo(before + 3 * q.SizeInBytes + cached));
        grads.Dispose();
        Assert.That(device.AllocatedBytes, Is.EqualTo(before + cached));
        device.ReleaseCachedMemory();
        Assert.That(device.AllocatedBytes, Is.EqualTo(before));
        Assert.That(device.CachedBytes, Is.Zero);
    }
}
