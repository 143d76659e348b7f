using FlashAttn.Bench.Results;

namespace FlashAttn.Bench.Attention;

/// <summary>
/// The configurations of a sweep: flash-attn's benchmark grid by default (batch·seqlen = 16384 tokens, model dim
/// 2048 split into 2048 / d heads, d ∈ {64, 128}, causal on and off, seqlen 512 … 16384, every dtype and pass).
/// </summary>
/// <param name="DTypes">Element types.</param>
/// <param name="HeadDims">Head dims d; heads = <paramref name="ModelDim"/> / d rounded down (as flash-attn's benchmark).</param>
/// <param name="SeqLens">Sequence lengths (s_q = s_k).</param>
/// <param name="Causals">Mask settings.</param>
/// <param name="Passes">What to time.</param>
/// <param name="BatchTokens">b·s: batch = max(1, BatchTokens / seqlen).</param>
/// <param name="ModelDim">h·d.</param>
/// <param name="Fp32Math">How fp32 configurations multiply: exact FFMA (the sweep's default, comparable with earlier runs), 3×TF32 on the
/// tensor cores, or the library's default (auto: the faster of the two per pass and head dim).</param>
/// <param name="Layout">The tensors' dimension order: (b, s, h, d), the default, or PyTorch's (b, h, s, d).</param>
internal sealed record SweepGrid(
    IReadOnlyList<DType> DTypes, IReadOnlyList<int> HeadDims, IReadOnlyList<int> SeqLens, IReadOnlyList<bool> Causals,
    IReadOnlyList<AttentionPass> Passes, int BatchTokens = SweepGrid.FlashAttnBatchTokens, int ModelDim = SweepGrid.FlashAttnModelDim,
    Fp32Math Fp32Math = Fp32Math.Exact, AttentionLayout Layout = AttentionLayout.BatchSeqHeadDim)
{
    /// <summary>flash-attn's tokens per batch (b·seqlen).</summary>
    public const int FlashAttnBatchTokens = 16384;

    /// <summary>flash-attn's model dim (heads·d).</summary>
    public const int FlashAttnModelDim = 2048;

    /// <summary>flash-attn's sequence lengths.</summary>
    public static IReadOnlyList<int> FlashAttnSeqLens { get; } = [512, 1024, 2048, 4096, 8192, 16384];

    /// <summary>flash-attn's head dims.</summary>
    public static IReadOnlyList<int> FlashAttnHeadDims { get; } = [64, 128];

    /// <summary>The full grid.</summary>
    public static SweepGrid FlashAttn { get; } = new(
        [DType.Float32, DType.Float16, DType.BFloat16], FlashAttnHeadDims, FlashAttnSeqLens, [false, true], AttentionPasses.All);

    /// <summary>
    /// Every configuration, ordered dtype → d → seqlen → causal, so consecutive configurations that differ only in the
    /// mask share their buffers.
    /// </summary>
    /// <exception cref="ArgumentException">A head dim is larger than the model dim.</exception>
    public IReadOnlyList<SweepConfiguration> Configurations()
    {
        var configurations = new List<SweepConfiguration>();
        foreach (var dtype in DTypes)
        foreach (int headDim in HeadDims)
        {
            if (headDim > ModelDim)
                throw new ArgumentException($"head dim {headDim} is larger than the model dim {ModelDim}.", nameof(HeadDims));
            foreach (int seqLen in SeqLens)
            foreach (bool causal in Causals)
                configurations.Add(new SweepConfiguration(dtype, headDim, causal, Math.Max(1, BatchTokens / seqLen), seqLen, ModelDim / headDim, Fp32Math, Layout));
        }
        return configurations;
    }
}
