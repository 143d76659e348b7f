namespace FlashAttn.Tests.Api;

/// <summary>Forward and backward into caller-provided tensors: same values as the allocating calls, checked destinations.</summary>
public class DestinationTests
{
    private static readonly AttentionOptions Options = new() { Causal = true, Deterministic = true };

    [Test]
    public void ForwardAndBackwardWriteIntoTheCallersTensors()
    {
        using var device = Device.Cpu();
        using var data = new ApiTestData(device);
        var (expected, expectedGrads) = data.ExplicitForwardBackward(Options);
        using var disposeForward = expected;
        using var disposeGrads = expectedGrads;

        using var output = DeviceTensor.Empty<float>(device, ApiTestData.QShape);
        using var lse = DeviceTensor.Empty<float>(device, ApiTestData.LseShape);
        FlashAttention.Forward(data.Q, data.K, data.V, output, lse, Options);
        long allocated = device.AllocatedBytes;
        FlashAttention.Forward(data.Q, data.K, data.V, output, lse, Options);
        Assert.That(device.AllocatedBytes, Is.EqualTo(allocated), "a forward into given tensors allocates nothing");

        using var dq = DeviceTensor.Empty<float>(device, ApiTestData.QShape);
        using var dk = DeviceTensor.Empty<float>(device, ApiTestData.KvShape);
        using var dv = DeviceTensor.Empty<float>(device, ApiTestData.KvShape);
        FlashAttention.Backward(data.DOut, data.Q, data.K, data.V, output, lse, dq, dk, dv, Options);
        Assert.Multiple(() =>
        {
            Assert.That(output.ToArray(), Is.EqualTo(expected.Output.ToArray()));
            Assert.That(lse.ToArray(), Is.EqualTo(expected.Lse!.ToArray()));
            Assert.That(dq.ToArray(), Is.EqualTo(expectedGrads.DQ.ToArray()).Within(1e-6f));
            Assert.That(dk.ToArray(), Is.EqualTo(expectedGrads.DK.ToArray()).Within(1e-6f));
            Assert.That(dv.ToArray(), Is.EqualTo(expectedGrads.DV.ToArray()).Within(1e-6f));
        });

        using var noLse = DeviceTensor.Zeros<float>(device, ApiTestData.QShape);
        FlashAttention.Forward(data.Q, data.K, data.V, noLse, lse: null, Options);
        Assert.That(noLse.ToArray(), Is.EqualTo(expected.Output.ToArray()));
    }

    [Test]
    public void BadDestinationsAreNamed()
    {
        using var device = Device.Cpu();
        using var data = new ApiTestData(device);
        using var wrongShape = DeviceTensor.Empty<float>(device, ApiTestData.KvShape);
        using var lse = DeviceTensor.Empty<float>(device, ApiTestData.LseShape);
        using var wrongLse = DeviceTensor.Empty<float>(device, 1, 2, 3);
        using var output = DeviceTensor.Empty<float>(device, ApiTestData.QShape);
        using var other = Device.Cpu();
        using var elsewhere = DeviceTensor.Empty<float>(other, ApiTestData.QShape);
        Assert.Multiple(() =>
        {
            Assert.That(() => FlashAttention.Forward(data.Q, data.K, data.V, wrongShape, lse, Options),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("output").And.Message.Contain("q's shape"));
            Assert.That(() => FlashAttention.Forward(data.Q, data.K, data.V, output, wrongLse, Options),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("lse").And.Message.Contain("(batch, heads_q, s_q)"));
            Assert.That(() => FlashAttention.Forward(data.Q, data.K, data.V, data.Q, lse, Options),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("output").And.Message.Contain("overlaps"));
            Assert.That(() => FlashAttention.Forward(data.Q, data.K, data.V, elsewhere, lse, Options),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("output").And.Message.Contain("q's device"));
            Assert.That(() => FlashAttention.Backward(data.DOut, data.Q, data.K, data.V, output, lse, output, wrongShape, wrongShape, Options),
                Throws.ArgumentException.With.Property("ParamName").EqualTo("dq").And.Message.Contain("overlaps"));
        });
    }
}
