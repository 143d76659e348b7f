using System.Runtime.InteropServices;
using FlashAttn.Tests.Api.Sequences;
using FlashAttn.Tests.Kernels;
using static FlashAttn.Tests.Api.Sequences.SequenceTestSupport;

namespace FlashAttn.Tests.Api;

/// <summary>
/// <see cref="AttentionOptions.Layout"/>: (b, h, s, d) tensors, read and written in place by the CPU path and by the GPU
/// kernels (run by the emulator), give the (b, s, h, d) results permuted — exactly where both calls run the same arithmetic
/// in the same order — allocate nothing more, and are validated in their own dimension order.
/// </summary>
public class LayoutTests
{
    private const AttentionLayout HeadMajor = AttentionLayout.BatchHeadSeqDim;

    // Cpu: the dedicated CPU path; Emulator: fp32 register tiles (d = 16, no GQA: dq, dk, dv are their own accumulators),
    // the general fp32 kernels (d = 19, GQA: the convert pass), tensor cores with 16-byte chunks (d = 24) and without (d = 20)
    [TestCase(SequenceDevice.Cpu, AttentionDtype.Fp32, 37, 29, 4, 2, 19, true, false)]
    [TestCase(SequenceDevice.Cpu, AttentionDtype.Fp16, 70, 65, 3, 3, 32, false, false)]
    [TestCase(SequenceDevice.Cpu, AttentionDtype.Bf16, 9, 75, 4, 1, 24, true, false)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp32, 13, 21, 2, 2, 16, true, false)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp32, 11, 9, 4, 2, 19, false, true)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp16, 19, 33, 4, 2, 24, true, false)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Bf16, 17, 13, 2, 1, 20, false, true)]
    public void HeadMajorGivesTheSeqMajorResultsPermuted(SequenceDevice where, AttentionDtype dtype, int sq, int sk, int hq, int hkv,
        int d, bool causal, bool deterministic)
    {
        switch (dtype)
        {
            case AttentionDtype.Fp16: Compare<Half>(where, dtype, sq, sk, hq, hkv, d, causal, deterministic); break;
            case AttentionDtype.Bf16: Compare<BFloat16>(where, dtype, sq, sk, hq, hkv, d, causal, deterministic); break;
            default: Compare<float>(where, dtype, sq, sk, hq, hkv, d, causal, deterministic); break;
        }
    }

    private static void Compare<T>(SequenceDevice where, AttentionDtype dtype, int sq, int sk, int hq, int hkv, int d, bool causal,
        bool deterministic) where T : unmanaged
    {
        const int batch = 2;
        var random = new Random(sq * 31 + sk);
        float[] q = Random(random, batch * sq * hq * d, dtype), k = Random(random, batch * sk * hkv * d, dtype);
        float[] v = Random(random, k.Length, dtype), dOut = Random(random, q.Length, dtype);
        var options = new AttentionOptions { Causal = causal, Deterministic = deterministic };
        using var device = Create(where);

        // (b, s, h, d): the explicit forward and backward
        using var qs = Upload<T>(device, q, batch, sq, hq, d);
        using var ks = Upload<T>(device, k, batch, sk, hkv, d);
        using var vs = Upload<T>(device, v, batch, sk, hkv, d);
        using var dOuts = Upload<T>(device, dOut, batch, sq, hq, d);
        using var forward = FlashAttention.Forward(qs, ks, vs, options with { ReturnLse = true });
        using var gradients = FlashAttention.Backward(dOuts, qs, ks, vs, forward.Output, forward.Lse!, options);

        // (b, h, s, d): the training object, whose outputs and gradients take the inputs' layout
        var headMajor = options with { Layout = HeadMajor };
        using var qh = Upload<T>(device, Permute(q, batch, sq, hq, d), batch, hq, sq, d);
        using var kh = Upload<T>(device, Permute(k, batch, sk, hkv, d), batch, hkv, sk, d);
        using var vh = Upload<T>(device, Permute(v, batch, sk, hkv, d), batch, hkv, sk, d);
        using var dOuth = Upload<T>(device, Permute(dOut, batch, sq, hq, d), batch, hq, sq, d);
        using var attention = FlashAttention.ForwardForTraining(qh, kh, vh, headMajor);
        using var headGradients = attention.Backward(dOuth);

        // both run the same arithmetic: only dq's atomics (fp32 adds in any order) may differ, by rounding
        bool exact = where == SequenceDevice.Cpu || deterministic;
        double dqTolerance = exact ? 0 : 16 * Epsilon(dtype) * MaxAbs(Download(gradients.DQ));
        Assert.Multiple(() =>
        {
            Assert.That(attention.Output.GetShape(), Is.EqualTo(qh.GetShape()));
            Assert.That(headGradients.DK.GetShape(), Is.EqualTo(kh.GetShape()));
            Assert.That(SeqMajor(attention.Output, sq, hq), Is.EqualTo(Download(forward.Output)), "output");
            Assert.That(Download(attention.Lse), Is.EqualTo(Download(forward.Lse!)), "lse: (b, h_q, s_q) in either layout");
            Assert.That(SeqMajor(headGradients.DQ, sq, hq), Is.EqualTo(Download(gradients.DQ)).Within(dqTolerance), "dq");
            Assert.That(SeqMajor(headGradients.DK, sk, hkv), Is.EqualTo(Download(gradients.DK)), "dk");
            Assert.That(SeqMajor(headGradients.DV, sk, hkv), Is.EqualTo(Download(gradients.DV)), "dv");
        });
    }

    /// <summary>
    /// The (b, h, s, d) passes allocate exactly what the (b, s, h, d) ones do, from an empty cache (no permuted copy of any
    /// tensor); with fp32 and no GQA on the GPU kernels that is D alone, less than one tensor.
    /// </summary>
    [TestCase(SequenceDevice.Cpu)]
    [TestCase(SequenceDevice.Emulator)]
    public void HeadMajorAllocatesNothingMore(SequenceDevice where)
    {
        const int batch = 2, seqLen = 24, heads = 2, d = 16;
        using var device = Create(where);
        long Peak(AttentionLayout layout)
        {
            int[] shape = layout.Shape(batch, seqLen, heads, d);
            using var q = DeviceTensor.Upload<float>(device, Core.TestDevices.Random(batch * seqLen * heads * d, 5), shape);
            using var output = DeviceTensor.Empty<float>(device, shape);
            using var lse = DeviceTensor.Empty<float>(device, batch, heads, seqLen);
            using var dq = DeviceTensor.Empty<float>(device, shape);
            using var dk = DeviceTensor.Empty<float>(device, shape);
            using var dv = DeviceTensor.Empty<float>(device, shape);
            var options = new AttentionOptions { Causal = true, Layout = layout };
            device.ReleaseCachedMemory();
            long before = device.AllocatedBytes;
            device.ResetPeakAllocatedBytes();
            FlashAttention.Forward(q, q, q, output, lse, options);
            FlashAttention.Backward(q, q, q, q, output, lse, dq, dk, dv, options);
            device.Synchronize();
            return device.PeakAllocatedBytes - before;
        }
        long seqMajor = Peak(AttentionLayout.BatchSeqHeadDim), headMajor = Peak(HeadMajor);
        Assert.That(headMajor, Is.EqualTo(seqMajor));
        if (where == SequenceDevice.Emulator)
            Assert.That(headMajor, Is.LessThan((long)batch * seqLen * heads * d * sizeof(float)), "D only: the gradients are the accumulators");
    }

    /// <summary>Caller memory in (b, h, s, d) is read and written in place: the wrapped output holds the permuted result.</summary>
    [Test]
    public unsafe void WrappedHeadMajorMemoryIsWrittenInPlace()
    {
        using var device = Device.Cpu();
        using var data = new ApiTestData(device);
        using var expected = FlashAttention.Forward(data.Q, data.K, data.V, causal: true);
        const int b = ApiTestData.Batch, s = ApiTestData.SeqLen, h = ApiTestData.Heads, hkv = ApiTestData.KvHeads, d = ApiTestData.HeadDim;
        float[] q = Permute(data.QValues, b, s, h, d), k = Permute(data.KValues, b, s, hkv, d), v = Permute(data.VValues, b, s, hkv, d);
        float* memory = (float*)NativeMemory.Alloc((nuint)(2 * q.Length + 2 * k.Length), sizeof(float));
        try
        {
            float* kAt = memory + q.Length, vAt = kAt + k.Length, outputAt = vAt + v.Length;
            q.CopyTo(new Span<float>(memory, q.Length));
            k.CopyTo(new Span<float>(kAt, k.Length));
            v.CopyTo(new Span<float>(vAt, v.Length));
            var layout = HeadMajor;
            using var qView = DeviceTensor.Wrap<float>(device, (nint)memory, layout.Shape(b, s, h, d));
            using var kView = DeviceTensor.Wrap<float>(device, (nint)kAt, layout.Shape(b, s, hkv, d));
            using var vView = DeviceTensor.Wrap<float>(device, (nint)vAt, layout.Shape(b, s, hkv, d));
            using var outputView = DeviceTensor.Wrap<float>(device, (nint)outputAt, layout.Shape(b, s, h, d));
            FlashAttention.Forward(qView, kView, vView, outputView, lse: null, new AttentionOptions { Causal = true, Layout = layout });
            device.Synchronize();
            float[] written = new Span<float>(outputAt, q.Length).ToArray();
            Assert.That(Permute(written, b, h, s, d), Is.EqualTo(expected.ToArray()));
        }
        finally
        {
            NativeMemory.Free(memory);
        }
    }

    [Test]
    public void ShapesAreReadAndValidatedInTheLayout()
    {
        using var device = Device.Cpu();
        var options = new AttentionOptions { Layout = HeadMajor };
        using var q = DeviceTensor.Zeros<float>(device, 1, 4, 6, 8);      // (b, h_q, s_q, d)
        using var k = DeviceTensor.Zeros<float>(device, 1, 3, 5, 8);      // 3 kv heads do not divide 4
        using var kv = DeviceTensor.Zeros<float>(device, 1, 2, 5, 8);
        using var lse = DeviceTensor.Zeros<float>(device, 1, 4, 6);
        using var wrongLse = DeviceTensor.Zeros<float>(device, 1, 6, 4);
        using var result = FlashAttention.Forward(q, kv, kv, options with { ReturnLse = true });
        Assert.Multiple(() =>
        {
            Assert.That(result.Lse!.GetShape(), Is.EqualTo(new[] { 1, 4, 6 }));
            Assert.That(() => FlashAttention.Forward(q, k, k, options),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("k").And.Message.Contain("heads"));
            Assert.That(() => FlashAttention.Backward(q, q, kv, kv, q, wrongLse, options),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("lse"));
            Assert.That(() => FlashAttention.Forward(q, kv, kv, new AttentionOptions { Layout = (AttentionLayout)7 }),
                Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("options").And.Message.Contain("options.Layout"));
        });
    }

    [Test]
    public void VarlenAndKvCacheCallsRefuseAnotherLayout()
    {
        using var device = Device.Cpu();
        var options = new AttentionOptions { Layout = HeadMajor };
        using var packed = DeviceTensor.Zeros<float>(device, 4, 1, 8);
        using var cu = DeviceTensor.Upload<int>(device, [0, 4], 2);
        using var q = DeviceTensor.Zeros<float>(device, 1, 1, 1, 8);
        using var cache = DeviceTensor.Zeros<float>(device, 1, 4, 1, 8);
        using var seqlens = DeviceTensor.Upload<int>(device, [2], 1);
        using var packedLse = DeviceTensor.Zeros<float>(device, 1, 4);
        NUnit.Framework.Constraints.Constraint NamesLayout() =>
            Throws.ArgumentException.With.Property("ParamName").EqualTo("options").And.Message.Contain("options.Layout");
        Assert.Multiple(() =>
        {
            Assert.That(() => FlashAttention.ForwardVarlen(packed, packed, packed, cu, cu, 4, 4, options), NamesLayout());
            Assert.That(() => FlashAttention.BackwardVarlen(packed, packed, packed, packed, packed, packedLse, cu, cu, 4, 4, options), NamesLayout());
            Assert.That(() => FlashAttention.ForwardWithKvCache(q, cache, cache, seqlens, null, options), NamesLayout());
        });
    }

    /// <summary>Swaps dimensions 1 and 2 of a row-major (b, n1, n2, d) array; (b, n2, n1, d) undoes it.</summary>
    private static float[] Permute(float[] values, int batch, int n1, int n2, int d)
    {
        var permuted = new float[values.Length];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < n1; i++)
                for (int j = 0; j < n2; j++)
                    Array.Copy(values, (((long)b * n1 + i) * n2 + j) * d, permuted, (((long)b * n2 + j) * n1 + i) * d, d);
        return permuted;
    }

    /// <summary>A (b, h, s, d) tensor's values in (b, s, h, d) order.</summary>
    private static double[] SeqMajor<T>(DeviceTensor<T> headMajor, int seqLen, int heads) where T : unmanaged
    {
        var values = Array.ConvertAll(Download(headMajor), x => (float)x);
        return Widen(Permute(values, headMajor.Shape[0], heads, seqLen, headMajor.Shape[3]));
    }

    private static double Epsilon(AttentionDtype dtype) => dtype switch
    {
        AttentionDtype.Fp16 => Math.Pow(2, -10),
        AttentionDtype.Bf16 => Math.Pow(2, -7),
        _ => Math.Pow(2, -23),
    };

    private static double MaxAbs(double[] values) => values.Max(Math.Abs);
}
