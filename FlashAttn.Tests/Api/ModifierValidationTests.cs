using FlashAttn.Tests.Api.Sequences;
using static FlashAttn.Tests.Api.Sequences.SequenceTestSupport;

namespace FlashAttn.Tests.Api;

/// <summary>Softcap, ALiBi slopes and dropout are checked before any launch, the failure naming options (issue 14).</summary>
public class ModifierValidationTests
{
    [TestCase(SequenceDevice.Cpu)]
    [TestCase(SequenceDevice.Emulator)]
    public void BadOptionValuesNameOptions(SequenceDevice where)
    {
        using var device = Create(where);
        using var other = Device.Cpu(); // another device, even when where is Cpu
        using var q = DeviceTensor.Zeros<float>(device, 2, 4, 3, 8);
        using var kv = DeviceTensor.Zeros<float>(device, 2, 4, 1, 8);
        using var packed = DeviceTensor.Zeros<float>(device, 4, 3, 8);
        using var packedKv = DeviceTensor.Zeros<float>(device, 4, 1, 8);
        using var cu = DeviceTensor.Upload<int>(device, [0, 4], 2);
        using var seqlens = DeviceTensor.Upload<int>(device, [2, 1], 2);
        using var wrongShape = DeviceTensor.Zeros<float>(device, 4);
        using var wrongBatch = DeviceTensor.Zeros<float>(device, 3, 3);
        using var elsewhere = DeviceTensor.Zeros<float>(other, 3);
        var disposed = DeviceTensor.Zeros<float>(device, 3);
        disposed.Dispose();
        NUnit.Framework.Constraints.Constraint Names<TException>(string text) where TException : ArgumentException
            => Throws.InstanceOf<TException>().With.Property("ParamName").EqualTo("options").And.Message.Contain(text);
        var outOfRange = new (AttentionOptions Options, string Text)[]
        {
            (new() { Softcap = 0f }, "Softcap"), (new() { Softcap = -1f }, "Softcap"), (new() { Softcap = float.NaN }, "Softcap"),
            (new() { Softcap = float.PositiveInfinity }, "Softcap"),
            (new() { Dropout = new Dropout(1f, 0, 0) }, "Dropout"), (new() { Dropout = new Dropout(-0.1f, 0, 0) }, "Dropout"),
            (new() { Dropout = new Dropout(float.NaN, 0, 0) }, "Dropout"), (new() { Dropout = new Dropout(0.001f, 0, 0) }, "1/512"),
        };
        var badSlopes = new[] { wrongShape, wrongBatch, elsewhere, disposed };
        Assert.Multiple(() =>
        {
            foreach (var (options, text) in outOfRange)
            {
                Assert.That(() => FlashAttention.Forward(q, kv, kv, options), Names<ArgumentOutOfRangeException>(text));
                Assert.That(() => FlashAttention.ForwardVarlen(packed, packedKv, packedKv, cu, cu, 4, 4, options), Names<ArgumentOutOfRangeException>(text));
            }
            foreach (var slopes in badSlopes)
            {
                var options = new AttentionOptions { AlibiSlopes = slopes };
                Assert.That(() => FlashAttention.Forward(q, kv, kv, options), Names<ArgumentException>("AlibiSlopes"));
                Assert.That(() => FlashAttention.ForwardVarlen(packed, packedKv, packedKv, cu, cu, 4, 4, options), Names<ArgumentException>("AlibiSlopes"));
                Assert.That(() => FlashAttention.ForwardWithKvCache(q, kv, kv, seqlens, null, options), Names<ArgumentException>("AlibiSlopes"));
            }
            // KV-cache calls are inference: no dropout
            Assert.That(() => FlashAttention.ForwardWithKvCache(q, kv, kv, seqlens, null, new AttentionOptions { Dropout = new Dropout(0.1f, 1, 2) }),
                Names<ArgumentException>("Dropout"));
        });
    }

    /// <summary>ALiBi's distances reach float exactly up to 2²² (XMath.SmallIntToFloat): a longer s_q + s_k is refused before any
    /// launch, naming options.</summary>
    [Test]
    public void AlibiRefusesDistancesPastItsExactRange()
    {
        using var device = Device.Cpu();
        using var q = DeviceTensor.Zeros<Half>(device, 1, 2, 1, 8);
        using var kv = DeviceTensor.Zeros<Half>(device, 1, FlashAttn.Compute.XMath.SmallIntLimit - 1, 1, 8); // s_q + s_k = 2^22 + 1
        using var slopes = DeviceTensor.Upload<float>(device, [0.5f], 1);
        Assert.That(() => FlashAttention.Forward(q, kv, kv, new AttentionOptions { AlibiSlopes = slopes }),
            Throws.ArgumentException.With.Property("ParamName").EqualTo("options").And.Message.Contain("AlibiSlopes").And.Message.Contain("s_q + s_k"));
    }

    [Test]
    public void ValidOptionsRun()
    {
        using var device = Device.Cpu();
        using var q = DeviceTensor.Zeros<float>(device, 2, 4, 3, 8);
        using var kv = DeviceTensor.Zeros<float>(device, 2, 4, 1, 8);
        using var perBatch = DeviceTensor.Zeros<float>(device, 2, 3);
        using var result = FlashAttention.Forward(q, kv, kv, new AttentionOptions
        {
            Softcap = 30f, AlibiSlopes = perBatch, Dropout = new Dropout(0f, 1, 2),
        });
        Assert.That(result.Output.GetShape(), Is.EqualTo(new[] { 2, 4, 3, 8 }));
    }

    [Test]
    public void DropoutMaskRefusesBadSizes()
        => Assert.Multiple(() =>
        {
            Assert.That(() => FlashAttention.DropoutMask(default, -1, 1, 1, 1), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("batch"));
            Assert.That(() => FlashAttention.DropoutMask(default, 1, 1, 1, -2), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("seqLenK"));
            Assert.That(() => FlashAttention.DropoutMask(new Dropout(1.5f, 0, 0), 1, 1, 1, 1), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("dropout"));
        });
}
