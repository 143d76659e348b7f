namespace FlashAttn.Tests.Api;

/// <summary>Small attention inputs on the real CPU device: q (1, 9, 2, 8), k and v (1, 9, 1, 8) (grouped-query).</summary>
internal sealed class ApiTestData : IDisposable
{
    public const int Batch = 1, SeqLen = 9, Heads = 2, KvHeads = 1, HeadDim = 8;

    public ApiTestData(Device device)
    {
        QValues = Core.TestDevices.Random(Batch * SeqLen * Heads * HeadDim, 1);
        KValues = Core.TestDevices.Random(Batch * SeqLen * KvHeads * HeadDim, 2);
        VValues = Core.TestDevices.Random(Batch * SeqLen * KvHeads * HeadDim, 3);
        DOutValues = Core.TestDevices.Random(QValues.Length, 4);
        Q = DeviceTensor.Upload<float>(device, QValues, QShape);
        K = DeviceTensor.Upload<float>(device, KValues, KvShape);
        V = DeviceTensor.Upload<float>(device, VValues, KvShape);
        DOut = DeviceTensor.Upload<float>(device, DOutValues, QShape);
    }

    public static int[] QShape => [Batch, SeqLen, Heads, HeadDim];
    public static int[] KvShape => [Batch, SeqLen, KvHeads, HeadDim];
    public static int[] LseShape => [Batch, Heads, SeqLen];

    public float[] QValues { get; }
    public float[] KValues { get; }
    public float[] VValues { get; }
    public float[] DOutValues { get; }
    public DeviceTensor<float> Q { get; }
    public DeviceTensor<float> K { get; }
    public DeviceTensor<float> V { get; }
    public DeviceTensor<float> DOut { get; }

    /// <summary>The lower-level pair (forward with ReturnLse, then backward with the same options): the expected values.</summary>
    public (AttentionResult<float> Forward, AttentionGradients<float> Gradients) ExplicitForwardBackward(AttentionOptions options)
    {
        var forward = FlashAttention.Forward(Q, K, V, options with { ReturnLse = true });
        return (forward, FlashAttention.Backward(DOut, Q, K, V, forward.Output, forward.Lse!, options));
    }

    public void Dispose()
    {
        Q.Dispose();
        K.Dispose();
        V.Dispose();
        DOut.Dispose();
    }
}
