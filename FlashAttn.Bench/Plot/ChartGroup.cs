using FlashAttn.Bench.Results;

namespace FlashAttn.Bench.Plot;

/// <summary>What one chart (and one comparison table) covers: a dtype, head dim, mask and pass, over sequence lengths.</summary>
internal readonly record struct ChartGroup(DType DType, int HeadDim, bool Causal, AttentionPass Pass)
{
    /// <summary>The group of <paramref name="result"/>.</summary>
    public static ChartGroup Of(BenchResult result) => new(result.DType, result.HeadDim, result.Causal, result.Pass);

    /// <summary>E.g. "fp16, d = 128, causal, forward".</summary>
    public string Title => $"{DTypeNames.Of(DType)}, d = {HeadDim}, {(Causal ? "causal" : "non-causal")}, {AttentionPasses.Title(Pass)}";

    /// <summary>E.g. "tflops-fp16-d128-causal-fwd.svg".</summary>
    public string FileName => $"tflops-{DTypeNames.Of(DType)}-d{HeadDim}-{(Causal ? "causal" : "noncausal")}-{AttentionPasses.Name(Pass)}.svg";

    /// <summary>The key of this group's row at <paramref name="seqLen"/>.</summary>
    public ConfigurationKey At(int seqLen) => new(DType, HeadDim, Causal, seqLen, Pass);
}
