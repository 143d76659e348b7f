using FlashAttn.Bench.Attention;

namespace FlashAttn.Bench.Api;

/// <summary>
/// Tensors of one tiny attention problem (b = 1, h = 1, d = 64, s_q = s_k = the constructor's seqLen, fp32) on a device:
/// q, k, v, dOut random, and the forward's output and lse, for the API benchmarks.
/// </summary>
internal sealed class SmallProblem : IDisposable
{
    /// <summary>d of every API benchmark.</summary>
    public const int HeadDim = 64;

    /// <summary>Allocates and fills the tensors and runs one forward for output and lse.</summary>
    public SmallProblem(Device device, int seqLen)
    {
        Q = Random(device, seqLen, HeadDim, seed: 1);
        K = Random(device, seqLen, HeadDim, seed: 2);
        V = Random(device, seqLen, HeadDim, seed: 3);
        DOut = Random(device, seqLen, HeadDim, seed: 4);
        Forward = FlashAttention.Forward(Q, K, V, Options);
    }

    /// <summary>Options of every call: default scale, no mask, lse returned (the backward needs it).</summary>
    public static AttentionOptions Options { get; } = new() { ReturnLse = true };

    /// <summary>Queries (1, s, 1, 64).</summary>
    public DeviceTensor<float> Q { get; }

    /// <summary>Keys, q's shape.</summary>
    public DeviceTensor<float> K { get; }

    /// <summary>Values, q's shape.</summary>
    public DeviceTensor<float> V { get; }

    /// <summary>Gradient of the output, q's shape.</summary>
    public DeviceTensor<float> DOut { get; }

    /// <summary>The forward's output and lse.</summary>
    public AttentionResult<float> Forward { get; }

    /// <summary>A random (1, s, 1, d) tensor.</summary>
    public static DeviceTensor<float> Random(Device device, int seqLen, int headDim, int seed)
        => RandomFill.Tensor<float>(device, seed, 1, seqLen, 1, headDim);

    /// <inheritdoc/>
    public void Dispose()
    {
        Forward.Dispose();
        foreach (var tensor in new[] { Q, K, V, DOut }) tensor.Dispose();
    }
}
