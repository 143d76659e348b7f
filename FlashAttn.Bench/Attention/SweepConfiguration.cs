using FlashAttn.Bench.Results;
using FlashAttn.Kernels;

namespace FlashAttn.Bench.Attention;

/// <summary>One self-attention problem of a sweep: q, k, v of shape (b, s, h, d) (or (b, h, s, d) per <paramref name="Layout"/>),
/// s_q = s_k; fp32 multiplied as <paramref name="Fp32Math"/>.</summary>
internal sealed record SweepConfiguration(DType DType, int HeadDim, bool Causal, int Batch, int SeqLen, int Heads, Fp32Math Fp32Math = Fp32Math.Exact,
    AttentionLayout Layout = AttentionLayout.BatchSeqHeadDim)
{
    /// <summary>The launcher's shape (h_q = h_kv).</summary>
    public AttentionShape Shape => new(Batch, SeqLen, SeqLen, Heads, Heads, HeadDim, Layout);

    /// <summary>The launcher's settings: scale 1/√d, the mask, default alignment.</summary>
    public AttentionSettings Settings => new(1f / MathF.Sqrt(HeadDim), Causal, Fp32Math: Fp32Math);

    /// <summary>FLOPs of <paramref name="pass"/>.</summary>
    public double Flops(AttentionPass pass) => AttentionFlops.Of(pass, Batch, SeqLen, Heads, HeadDim, Causal);

    /// <summary>A result row for this configuration with no measurement yet.</summary>
    public BenchResult Result(AttentionPass pass) => new()
    {
        Backend = Backends.FlashAttn,
        DType = DType,
        HeadDim = HeadDim,
        Causal = Causal,
        Batch = Batch,
        SeqLen = SeqLen,
        Heads = Heads,
        Pass = pass,
    };

    /// <inheritdoc/>
    public override string ToString()
        => $"{DTypeNames.Of(DType)}{(DType == DType.Float32 ? Fp32Math switch { Fp32Math.TensorCores => " (3xTF32)", Fp32Math.Auto => " (auto)", _ => "" } : "")} d={HeadDim} "
           + $"{(Causal ? "causal" : "non-causal")} s={SeqLen} b={Batch} h={Heads}{(Layout == AttentionLayout.BatchHeadSeqDim ? " (b,h,s,d)" : "")}";
}
