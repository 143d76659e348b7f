namespace FlashAttn.Tests.Api;

/// <summary>The training call keeps the forward's LSE and options, so its backward equals the explicit one.</summary>
public class TrainingAttentionTests
{
    private static readonly AttentionOptions Causal = new() { Causal = true, Scale = 0.3f, Deterministic = true };

    [Test]
    public void BackwardReusesTheForwardsLseAndOptions()
    {
        using var device = Device.Cpu();
        using var data = new ApiTestData(device);
        var (explicitForward, explicitGrads) = data.ExplicitForwardBackward(Causal);
        using var disposeForward = explicitForward;
        using var disposeGrads = explicitGrads;

        using var attention = FlashAttention.ForwardForTraining(data.Q, data.K, data.V, Causal);
        using var grads = attention.Backward(data.DOut);
        Assert.Multiple(() =>
        {
            Assert.That(attention.Options, Is.SameAs(Causal));
            Assert.That(attention.Output.ToArray(), Is.EqualTo(explicitForward.Output.ToArray()));
            Assert.That(attention.Lse.ToArray(), Is.EqualTo(explicitForward.Lse!.ToArray()));
            Assert.That(grads.DQ.ToArray(), Is.EqualTo(explicitGrads.DQ.ToArray()).Within(1e-6f));
            Assert.That(grads.DK.ToArray(), Is.EqualTo(explicitGrads.DK.ToArray()).Within(1e-6f));
            Assert.That(grads.DV.ToArray(), Is.EqualTo(explicitGrads.DV.ToArray()).Within(1e-6f));
        });

        using var dq = DeviceTensor.Empty<float>(device, ApiTestData.QShape);
        using var dk = DeviceTensor.Empty<float>(device, ApiTestData.KvShape);
        using var dv = DeviceTensor.Empty<float>(device, ApiTestData.KvShape);
        attention.Backward(data.DOut, dq, dk, dv);
        Assert.That(dq.ToArray(), Is.EqualTo(grads.DQ.ToArray()).Within(1e-6f));
        Assert.That(dv.ToArray(), Is.EqualTo(grads.DV.ToArray()).Within(1e-6f));
    }

    [Test]
    public void BackwardAfterDisposeOrWithDisposedInputsIsRejected()
    {
        using var device = Device.Cpu();
        using var data = new ApiTestData(device);
        var attention = FlashAttention.ForwardForTraining(data.Q, data.K, data.V);
        data.K.Dispose();
        Assert.That(() => attention.Backward(data.DOut), Throws.ArgumentException.With.Property("ParamName").EqualTo("k"));
        attention.Dispose();
        Assert.That(() => attention.Backward(data.DOut), Throws.TypeOf<ObjectDisposedException>());
    }
}
