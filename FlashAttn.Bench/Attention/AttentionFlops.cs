using FlashAttn.Bench.Results;

namespace FlashAttn.Bench.Attention;

/// <summary>
/// FLOPs of one attention call, as flash-attn's benchmarks count them: the forward does two matmuls of
/// 2·s_q·s_k·d each per head, 4·b·s_q·s_k·h·d in all, half of that when causal (the masked half is skipped);
/// the backward does five such matmuls, 2.5× the forward; forward + backward is 3.5×. Softmax and the mask are
/// not counted.
/// </summary>
internal static class AttentionFlops
{
    /// <summary>The formula as the results' notes state it.</summary>
    public const string Formula = "FLOPs = 4·b·s_q·s_k·h·d, halved when causal; backward = 2.5× forward, forward+backward = 3.5× forward";

    /// <summary>Forward FLOPs.</summary>
    public static double Forward(int batch, int seqLenQ, int seqLenK, int heads, int headDim, bool causal)
        => 4.0 * batch * seqLenQ * seqLenK * heads * headDim * (causal ? 0.5 : 1.0);

    /// <summary>How many forwards <paramref name="pass"/> counts as.</summary>
    public static double ForwardMultiple(AttentionPass pass) => pass switch
    {
        AttentionPass.Forward => 1.0,
        AttentionPass.Backward => 2.5,
        _ => 3.5,
    };

    /// <summary>FLOPs of <paramref name="pass"/> over self-attention (s_q = s_k = <paramref name="seqLen"/>).</summary>
    public static double Of(AttentionPass pass, int batch, int seqLen, int heads, int headDim, bool causal)
        => ForwardMultiple(pass) * Forward(batch, seqLen, seqLen, heads, headDim, causal);

    /// <summary>TFLOP/s of <paramref name="flops"/> done in <paramref name="milliseconds"/>.</summary>
    public static double Tflops(double flops, double milliseconds) => flops / (milliseconds * 1e9);
}
