namespace FlashAttn.Tests.Api;

/// <summary>The errors an adopter meets first say what to do, and name things distinguishably.</summary>
[NonParallelizable]
public class ErrorMessageTests
{
    [Test]
    public void AMissingLseSaysHowToGetOne()
    {
        using var device = Device.Cpu();
        using var data = new ApiTestData(device);
        using var result = FlashAttention.Forward(data.Q, data.K, data.V, AttentionOptions.Default);
        Assert.That(() => FlashAttention.Backward(data.DOut, data.Q, data.K, data.V, result.Output, result.Lse!, AttentionOptions.Default),
            Throws.TypeOf<ArgumentNullException>().With.Property("ParamName").EqualTo("lse")
                .And.Message.Contain("ReturnLse = true").And.Message.Contain("ForwardForTraining"));
    }

    [Test]
    public void TwoDevicesOfOneKindAreToldApart()
    {
        using var first = Device.Cpu();
        using var second = Device.Cpu();
        using var q = DeviceTensor.Zeros<float>(first, ApiTestData.QShape);
        using var k = DeviceTensor.Zeros<float>(second, ApiTestData.KvShape);
        using var v = DeviceTensor.Zeros<float>(first, ApiTestData.KvShape);
        Assert.That(first.ToString(), Is.Not.EqualTo(second.ToString()));
        Assert.That(() => FlashAttention.Forward(q, k, v),
            Throws.ArgumentException.With.Message.Contain($"#{first.Id}").And.Message.Contain($"#{second.Id}"));
    }

    [Test]
    public void NoCudaIsOneExceptionTypeWhicheverWayItIsAskedFor()
    {
        if (Device.IsCudaAvailable) Assert.Pass("a CUDA device is present here");
        string? saved = Environment.GetEnvironmentVariable("FLASHATTN_DEVICE");
        Environment.SetEnvironmentVariable("FLASHATTN_DEVICE", "cuda");
        try
        {
            Assert.Multiple(() =>
            {
                Assert.That(() => Device.CreateDefault(), Throws.TypeOf<DeviceUnavailableException>().With.Message.Contain("FLASHATTN_DEVICE"));
                Assert.That(() => Device.Cuda(), Throws.TypeOf<DeviceUnavailableException>().With.Message.Contain("Device.Cpu()"));
            });
        }
        finally
        {
            Environment.SetEnvironmentVariable("FLASHATTN_DEVICE", saved);
        }
    }

    [Test]
    public void BFloat16IsInThePublicNamespaceAndConvertsToAndFromFloat()
    {
        Assert.That(typeof(BFloat16).Namespace, Is.EqualTo("FlashAttn"));
        var value = BFloat16.FromSingle(1.5f);
        Assert.Multiple(() =>
        {
            Assert.That(value.ToSingle(), Is.EqualTo(1.5f));
            Assert.That((float)(BFloat16)3.0f, Is.EqualTo(3.0f));
            Assert.That(float.IsNaN(BFloat16.FromSingle(float.NaN).ToSingle()));
        });
    }
}
