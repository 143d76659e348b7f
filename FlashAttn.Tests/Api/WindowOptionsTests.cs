using FlashAttn.Kernels;
using FlashAttn.Kernels.Reference;
using FlashAttn.Tests.Api.Sequences;
using FlashAttn.Tests.Kernels;
using static FlashAttn.Tests.Api.Sequences.SequenceTestSupport;

namespace FlashAttn.Tests.Api;

/// <summary>
/// <see cref="AttentionOptions.WindowLeft"/> and <see cref="AttentionOptions.WindowRight"/> through the public API, on the
/// CPU path and on the GPU kernels run by the emulator: forward and backward against the fp64 reference, and validation.
/// </summary>
public class WindowOptionsTests
{
    [Test]
    public void DefaultsAreUnbounded()
        => Assert.That((AttentionOptions.Default.WindowLeft, AttentionOptions.Default.WindowRight), Is.EqualTo((-1, -1)));

    [TestCase(SequenceDevice.Cpu, AttentionDtype.Fp32, 70, 90, true, true, 10, -1)]
    [TestCase(SequenceDevice.Cpu, AttentionDtype.Fp16, 90, 40, false, false, 4, 6)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp32, 20, 33, false, true, 3, 5)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Bf16, 30, 20, true, false, 2, -1)]
    public void ForwardAndBackwardMatchReference(SequenceDevice where, AttentionDtype dtype, int sq, int sk, bool causal, bool bottomRight,
        int left, int right)
    {
        switch (dtype)
        {
            case AttentionDtype.Fp16: Run<Half>(where, dtype, sq, sk, causal, bottomRight, left, right); break;
            case AttentionDtype.Bf16: Run<BFloat16>(where, dtype, sq, sk, causal, bottomRight, left, right); break;
            default: Run<float>(where, dtype, sq, sk, causal, bottomRight, left, right); break;
        }
    }

    private static void Run<T>(SequenceDevice where, AttentionDtype dtype, int sq, int sk, bool causal, bool bottomRight, int left, int right)
        where T : unmanaged
    {
        const int heads = 2, headDim = 16;
        var shape = new AttentionShape(1, sq, sk, heads, 1, headDim);
        var c = new AttentionCase(shape, dtype, causal, bottomRight, Deterministic: false, Seed: 31, WindowLeft: left, WindowRight: right);
        var run = new AttentionRun(c);
        var options = new AttentionOptions
        {
            Causal = causal, CausalAlignment = bottomRight ? CausalAlignment.BottomRight : CausalAlignment.TopLeft,
            WindowLeft = left, WindowRight = right, ReturnLse = true,
        };
        using var device = Create(where);
        using var q = Upload<T>(device, run.Q, 1, sq, heads, headDim);
        using var k = Upload<T>(device, run.K, 1, sk, 1, headDim);
        using var v = Upload<T>(device, run.V, 1, sk, 1, headDim);
        using var dOut = Upload<T>(device, run.DOutput, 1, sq, heads, headDim);
        using var forward = FlashAttention.Forward(q, k, v, options);
        using var gradients = FlashAttention.Backward(dOut, q, k, v, forward.Output, forward.Lse!, options);
        var ours = new Kernels.AttentionResult
        {
            Output = Download(forward.Output), Lse = Download(forward.Lse!),
            Dq = Download(gradients.DQ), Dk = Download(gradients.DK), Dv = Download(gradients.DV),
        };
        bool emptyRows = Enumerable.Range(0, sq).Any(i => !Enumerable.Range(0, sk).Any(j => AttentionReference.Visible(shape, c.Settings, i, j)));
        AttentionKernelTests.CheckWindow(c, emptyRows, ours);
    }

    [TestCase(SequenceDevice.Cpu)]
    [TestCase(SequenceDevice.Emulator)]
    public void EdgesBelowMinusOneNameOptions(SequenceDevice where)
    {
        using var device = Create(where);
        using var q = DeviceTensor.Zeros<float>(device, 1, 4, 1, 8);
        using var kv = DeviceTensor.Zeros<float>(device, 1, 4, 1, 8);
        using var packed = DeviceTensor.Zeros<float>(device, 4, 1, 8);
        using var cu = DeviceTensor.Upload<int>(device, [0, 4], 2);
        using var seqlens = DeviceTensor.Upload<int>(device, [2], 1);
        NUnit.Framework.Constraints.Constraint OutOfRange() => // a fresh constraint per use: a resolved one cannot be reused
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("options").And.Message.Contain("options.Window");
        foreach (var options in new[] { new AttentionOptions { WindowLeft = -2 }, new AttentionOptions { Causal = true, WindowRight = int.MinValue } })
            Assert.Multiple(() =>
            {
                Assert.That(() => FlashAttention.Forward(q, kv, kv, options), OutOfRange());
                Assert.That(() => FlashAttention.ForwardVarlen(packed, packed, packed, cu, cu, 4, 4, options), OutOfRange());
                Assert.That(() => FlashAttention.ForwardWithKvCache(q, kv, kv, seqlens, null, options), OutOfRange());
            });
        // a window is aligned like the diagonal, which a KV cache has bottom-right only
        Assert.That(() => FlashAttention.ForwardWithKvCache(q, kv, kv, seqlens, null,
                new AttentionOptions { WindowLeft = 1, CausalAlignment = CausalAlignment.TopLeft }),
            Throws.ArgumentException.With.Property("ParamName").EqualTo("options"));
        // −1 and 0 are valid edges
        using var result = FlashAttention.Forward(q, kv, kv, new AttentionOptions { WindowLeft = 0, WindowRight = -1 });
        Assert.That(result.Output.GetShape(), Is.EqualTo(new[] { 1, 4, 1, 8 }));
    }
}
