using FlashAttn.Compute;

namespace FlashAttn.Tests.Core;

/// <summary>Every validation rule of FlashAttention: exception type, ParamName, message, and nothing allocated or launched.</summary>
public class ValidationTests
{
    /// <summary>Tensors of one validation case; the second device is for the cross-device rules.</summary>
    public sealed class Context(Device device, Device other)
    {
        public Device Device { get; } = device;
        public Device Other { get; } = other;

        public DeviceTensor T(DType dtype, params int[] shape) => T(Device, dtype, shape);

        public static DeviceTensor T(Device device, DType dtype, params int[] shape) => dtype switch
        {
            DType.Float32 => DeviceTensor.Zeros<float>(device, shape),
            DType.Float16 => DeviceTensor.Zeros<Half>(device, shape),
            _ => DeviceTensor.Zeros<BFloat16>(device, shape),
        };

        public DeviceTensor Q(DType dtype = DType.Float32) => T(dtype, 2, 8, 4, 16);
        public DeviceTensor Kv(DType dtype = DType.Float32) => T(dtype, 2, 6, 2, 16);
        public DeviceTensor Lse() => T(DType.Float32, 2, 4, 8);

        public DeviceTensor Disposed(DeviceTensor tensor)
        {
            tensor.Dispose();
            return tensor;
        }
    }

    private const DType F32 = DType.Float32;
    private const DType F16 = DType.Float16;
    private static readonly AttentionOptions Options = AttentionOptions.Default;

    private static Action Fwd(DeviceTensor? q, DeviceTensor? k, DeviceTensor? v, AttentionOptions? options = null) =>
        () => FlashAttention.Forward(q!, k!, v!, options ?? Options).Dispose();

    private static Action Bwd(Context c, DeviceTensor? dOut = null, DeviceTensor? q = null, DeviceTensor? k = null,
        DeviceTensor? v = null, DeviceTensor? output = null, DeviceTensor? lse = null, AttentionOptions? options = null,
        string? nullArgument = null)
    {
        dOut = nullArgument == "dOut" ? null : dOut ?? c.Q();
        q = nullArgument == "q" ? null : q ?? c.Q();
        k = nullArgument == "k" ? null : k ?? c.Kv();
        v = nullArgument == "v" ? null : v ?? c.Kv();
        output = nullArgument == "output" ? null : output ?? c.Q();
        lse = nullArgument == "lse" ? null : lse ?? c.Lse();
        options = nullArgument == "options" ? null : options ?? Options;
        return () => FlashAttention.Backward(dOut!, q!, k!, v!, output!, lse!, options!).Dispose();
    }

    private static TestCaseData Case(string name, Type exception, string param, Func<Context, Action> call, params string[] fragments) =>
        new TestCaseData(call, exception, param, fragments).SetName(name);

    private static IEnumerable<TestCaseData> Cases()
    {
        Type ane = typeof(ArgumentNullException), ae = typeof(ArgumentException), aoore = typeof(ArgumentOutOfRangeException);

        // Forward: nulls and disposed tensors.
        yield return Case("Forward_NullQ", ane, "q", c => Fwd(null, c.Kv(), c.Kv()));
        yield return Case("Forward_NullK", ane, "k", c => Fwd(c.Q(), null, c.Kv()));
        yield return Case("Forward_NullV", ane, "v", c => Fwd(c.Q(), c.Kv(), null));
        yield return Case("Forward_NullOptions", ane, "options", c => { var (q, k) = (c.Q(), c.Kv()); return () => FlashAttention.Forward(q, k, k, (AttentionOptions)null!); });
        yield return Case("Forward_DisposedQ", ae, "q", c => Fwd(c.Disposed(c.Q()), c.Kv(), c.Kv()), "q has been disposed");
        yield return Case("Forward_DisposedK", ae, "k", c => Fwd(c.Q(), c.Disposed(c.Kv()), c.Kv()), "k has been disposed");
        yield return Case("Forward_DisposedV", ae, "v", c => Fwd(c.Q(), c.Kv(), c.Disposed(c.Kv())), "v has been disposed");

        // Ranks.
        yield return Case("Forward_QRank3", ae, "q", c => Fwd(c.T(F32, 8, 4, 16), c.Kv(), c.Kv()), "rank 4", "actual rank 3", "[8, 4, 16]");
        yield return Case("Forward_KRank5", ae, "k", c => Fwd(c.Q(), c.T(F32, 1, 2, 6, 2, 16), c.Kv()), "rank 4", "actual rank 5");
        yield return Case("Forward_VRank2", ae, "v", c => Fwd(c.Q(), c.Kv(), c.T(F32, 6, 32)), "rank 4", "actual rank 2");

        // Shapes.
        yield return Case("Forward_HeadDim0", ae, "q", c => Fwd(c.T(F32, 2, 8, 4, 0), c.T(F32, 2, 6, 2, 0), c.T(F32, 2, 6, 2, 0)), "[1, 256]", "actual 0");
        yield return Case("Forward_HeadDim257", ae, "q", c => Fwd(c.T(F32, 1, 2, 1, 257), c.T(F32, 1, 2, 1, 257), c.T(F32, 1, 2, 1, 257)), "[1, 256]", "actual 257");
        yield return Case("Forward_Batch0", ae, "q", c => Fwd(c.T(F32, 0, 8, 4, 16), c.T(F32, 0, 6, 2, 16), c.T(F32, 0, 6, 2, 16)), "batch", "at least 1", "actual 0");
        yield return Case("Forward_SeqLenQ0", ae, "q", c => Fwd(c.T(F32, 2, 0, 4, 16), c.Kv(), c.Kv()), "seqlen", "actual 0");
        yield return Case("Forward_SeqLenK0", ae, "k", c => Fwd(c.Q(), c.T(F32, 2, 0, 2, 16), c.T(F32, 2, 0, 2, 16)), "seqlen", "actual 0");
        yield return Case("Forward_BatchMismatchK", ae, "k", c => Fwd(c.Q(), c.T(F32, 3, 6, 2, 16), c.T(F32, 3, 6, 2, 16)), "batch", "expected 2", "actual 3");
        yield return Case("Forward_HeadDimMismatchK", ae, "k", c => Fwd(c.Q(), c.T(F32, 2, 6, 2, 8), c.T(F32, 2, 6, 2, 8)), "head_dim", "expected 16", "actual 8");
        yield return Case("Forward_BatchMismatchV", ae, "v", c => Fwd(c.Q(), c.Kv(), c.T(F32, 3, 6, 2, 16)), "[2, 6, 2, 16]", "actual [3, 6, 2, 16]");
        yield return Case("Forward_VShapeDiffersFromK", ae, "v", c => Fwd(c.Q(), c.Kv(), c.T(F32, 2, 7, 2, 16)), "k's shape [2, 6, 2, 16]", "actual [2, 7, 2, 16]");
        yield return Case("Forward_BatchPastGridLimit", ae, "q", c => Fwd(c.T(F32, 65536, 1, 1, 4), c.T(F32, 65536, 1, 1, 4), c.T(F32, 65536, 1, 1, 4)), "batch", "at most 65535", "actual 65536");
        yield return Case("Forward_HeadsPastGridLimit", ae, "q", c => Fwd(c.T(F32, 1, 1, 65536, 4), c.T(F32, 1, 1, 1, 4), c.T(F32, 1, 1, 1, 4)), "heads", "at most 65535", "actual 65536");
        yield return Case("Forward_HeadsNotMultiple", ae, "k", c => Fwd(c.T(F32, 2, 8, 6, 16), c.T(F32, 2, 6, 4, 16), c.T(F32, 2, 6, 4, 16)), "divide q heads (6)", "actual 4");
        yield return Case("Forward_MoreKvHeadsThanQHeads", ae, "k", c => Fwd(c.T(F32, 2, 8, 2, 16), c.T(F32, 2, 6, 4, 16), c.T(F32, 2, 6, 4, 16)), "divide q heads (2)", "actual 4");

        // Dtypes and devices.
        yield return Case("Forward_DtypeMismatchK", ae, "k", c => Fwd(c.Q(), c.Kv(F16), c.Kv()), "dtype Float32", "actual Float16");
        yield return Case("Forward_DtypeMismatchV", ae, "v", c => Fwd(c.Q(F16), c.Kv(F16), c.Kv(DType.BFloat16)), "dtype Float16", "actual BFloat16");
        yield return Case("Forward_KOnOtherDevice", ae, "k", c => Fwd(c.Q(), Context.T(c.Other, F32, 2, 6, 2, 16), c.Kv()), "q's device");
        yield return Case("Forward_VOnOtherDevice", ae, "v", c => Fwd(c.Q(), c.Kv(), Context.T(c.Other, F32, 2, 6, 2, 16)), "q's device");

        // Scale.
        foreach (float scale in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0.5f })
            yield return Case($"Forward_Scale({scale})", aoore, "options", c => Fwd(c.Q(), c.Kv(), c.Kv(), new AttentionOptions { Scale = scale }),
                "options.Scale", "finite and positive", $"actual {scale}");
        yield return Case("Forward_UndefinedCausalAlignment", aoore, "options",
            c => Fwd(c.Q(), c.Kv(), c.Kv(), new AttentionOptions { Causal = true, CausalAlignment = (CausalAlignment)7 }), "CausalAlignment", "actual 7");
        yield return Case("Forward_UndefinedFp32Math", aoore, "options",
            c => Fwd(c.Q(), c.Kv(), c.Kv(), new AttentionOptions { Fp32Math = (Fp32Math)9 }), "options.Fp32Math", "actual 9");

        // Backward: nulls, disposed.
        foreach (var name in new[] { "dOut", "q", "k", "v", "output", "lse", "options" })
            yield return Case($"Backward_Null_{name}", ane, name, c => Bwd(c, nullArgument: name));
        yield return Case("Backward_DisposedDOut", ae, "dOut", c => Bwd(c, dOut: c.Disposed(c.Q())), "dOut has been disposed");
        yield return Case("Backward_DisposedOutput", ae, "output", c => Bwd(c, output: c.Disposed(c.Q())), "output has been disposed");
        yield return Case("Backward_DisposedLse", ae, "lse", c => Bwd(c, lse: c.Disposed(c.Lse())), "lse has been disposed");
        yield return Case("Backward_DisposedQ", ae, "q", c => Bwd(c, q: c.Disposed(c.Q())), "q has been disposed");

        // Backward: q/k/v rules still apply.
        yield return Case("Backward_QRank3", ae, "q", c => Bwd(c, q: c.T(F32, 8, 4, 16)), "rank 4", "actual rank 3");
        yield return Case("Backward_HeadsNotMultiple", ae, "k", c => Bwd(c, k: c.T(F32, 2, 6, 3, 16), v: c.T(F32, 2, 6, 3, 16)), "divide q heads (4)", "actual 3");
        yield return Case("Backward_Scale(NaN)", aoore, "options", c => Bwd(c, options: new AttentionOptions { Scale = float.NaN }), "options.Scale", "actual NaN");

        // Backward: dOut, output, lse.
        yield return Case("Backward_DOutShape", ae, "dOut", c => Bwd(c, dOut: c.T(F32, 2, 8, 4, 8)), "q's shape [2, 8, 4, 16]", "actual [2, 8, 4, 8]");
        yield return Case("Backward_DOutRank3", ae, "dOut", c => Bwd(c, dOut: c.T(F32, 2, 8, 64)), "q's shape [2, 8, 4, 16]", "actual [2, 8, 64]");
        yield return Case("Backward_OutputShape", ae, "output", c => Bwd(c, output: c.T(F32, 2, 9, 4, 16)), "q's shape [2, 8, 4, 16]", "actual [2, 9, 4, 16]");
        yield return Case("Backward_DOutDtype", ae, "dOut", c => Bwd(c, dOut: c.Q(F16)), "dtype Float32", "actual Float16");
        yield return Case("Backward_OutputDtype", ae, "output", c => Bwd(c, output: c.Q(DType.BFloat16)), "dtype Float32", "actual BFloat16");
        yield return Case("Backward_OutputOnOtherDevice", ae, "output", c => Bwd(c, output: Context.T(c.Other, F32, 2, 8, 4, 16)), "q's device");
        yield return Case("Backward_LseShape", ae, "lse", c => Bwd(c, lse: c.T(F32, 2, 8, 4)), "(batch, heads_q, s_q) = [2, 4, 8]", "actual [2, 8, 4]");
        yield return Case("Backward_LseRank4", ae, "lse", c => Bwd(c, lse: c.T(F32, 2, 4, 8, 1)), "[2, 4, 8]", "actual [2, 4, 8, 1]");
        yield return Case("Backward_LseNotFp32", ae, "lse", c => Bwd(c, lse: c.T(F16, 2, 4, 8)), "lse must be Float32", "actual Float16");
        yield return Case("Backward_LseOnOtherDevice", ae, "lse", c => Bwd(c, lse: Context.T(c.Other, F32, 2, 4, 8)), "q's device");
    }

    [TestCaseSource(nameof(Cases))]
    public void InvalidArgumentsThrowBeforeAnythingIsAllocatedOrLaunched(Func<Context, Action> build, Type exception, string param, string[] fragments)
    {
        using var device = TestDevices.Host(out var kernels);
        using var other = TestDevices.Host();
        var call = build(new Context(device, other));
        long before = device.AllocatedBytes;
        device.ResetPeakAllocatedBytes();

        var thrown = Assert.Throws(exception, () => call());

        Assert.Multiple(() =>
        {
            Assert.That(thrown, Is.InstanceOf<ArgumentException>());
            Assert.That(((ArgumentException)thrown!).ParamName, Is.EqualTo(param));
            Assert.That(thrown.Message, Does.Contain(param));
            foreach (var fragment in fragments)
                Assert.That(thrown.Message, Does.Contain(fragment));
            Assert.That(device.AllocatedBytes, Is.EqualTo(before), "allocated bytes after the failing call");
            Assert.That(device.PeakAllocatedBytes, Is.EqualTo(before), "peak bytes during the failing call");
            Assert.That(kernels.ForwardCalls + kernels.BackwardCalls, Is.Zero, "kernel launches");
        });
    }

    [Test]
    public void TheTypedOverloadsValidateToo()
    {
        using var device = TestDevices.Host(out var kernels);
        using var q = DeviceTensor.Zeros<float>(device, 2, 8, 4, 16);
        using var k = DeviceTensor.Zeros<float>(device, 2, 6, 3, 16);
        using var lse = DeviceTensor.Zeros<float>(device, 2, 4, 9);
        var forward = Assert.Throws<ArgumentException>(() => FlashAttention.Forward(q, k, k, causal: true));
        var backward = Assert.Throws<ArgumentException>(() => FlashAttention.Backward(q, q, k, k, q, lse, AttentionOptions.Default));
        Assert.Multiple(() =>
        {
            Assert.That(forward!.ParamName, Is.EqualTo("k"));
            Assert.That(backward!.ParamName, Is.EqualTo("k"));
            Assert.That(kernels.ForwardCalls + kernels.BackwardCalls, Is.Zero);
        });
    }

    [Test]
    public void ADisposedDeviceIsReportedAsTheTensorsArgument()
    {
        var device = TestDevices.Host();
        var q = DeviceTensor.Zeros<float>(device, 1, 2, 1, 4);
        device.Dispose();
        var thrown = Assert.Throws<ArgumentException>(() => FlashAttention.Forward(q, q, q));
        Assert.That(thrown!.ParamName, Is.EqualTo("q"));
    }
}
