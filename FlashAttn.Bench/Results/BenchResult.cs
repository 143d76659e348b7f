using System.Text.Json.Serialization;

namespace FlashAttn.Bench.Results;

/// <summary>
/// One measured (or failed) configuration of one backend: a row of the results files' "results" array. The JSON names
/// are the schema shared with the PyTorch benchmark script.
/// </summary>
internal sealed record BenchResult
{
    /// <summary>"flashattn" or a PyTorch backend (<see cref="Backends"/>).</summary>
    [JsonPropertyName("backend")] public required string Backend { get; init; }

    /// <summary>Element type of q, k, v and the outputs.</summary>
    [JsonPropertyName("dtype"), JsonConverter(typeof(DTypeJsonConverter))] public required DType DType { get; init; }

    /// <summary>d.</summary>
    [JsonPropertyName("head_dim")] public required int HeadDim { get; init; }

    /// <summary>Causal mask (s_q = s_k, so both alignments agree).</summary>
    [JsonPropertyName("causal")] public required bool Causal { get; init; }

    /// <summary>b.</summary>
    [JsonPropertyName("batch")] public required int Batch { get; init; }

    /// <summary>s_q = s_k.</summary>
    [JsonPropertyName("seqlen")] public required int SeqLen { get; init; }

    /// <summary>h (query heads = kv heads).</summary>
    [JsonPropertyName("heads")] public required int Heads { get; init; }

    /// <summary>What was timed.</summary>
    [JsonPropertyName("pass")] public required AttentionPass Pass { get; init; }

    /// <summary>Median milliseconds per call; null when not timed or failed.</summary>
    [JsonPropertyName("ms")] public double? Ms { get; init; }

    /// <summary>FLOPs (<see cref="Attention.AttentionFlops"/>) per second / 10¹²; null when not timed.</summary>
    [JsonPropertyName("tflops")] public double? Tflops { get; init; }

    /// <summary>Peak device bytes of the pass's buffers and workspaces; null when not measured.</summary>
    [JsonPropertyName("peak_bytes")] public long? PeakBytes { get; init; }

    /// <summary>What naive attention holds for the same pass (<see cref="Memory.MemoryAccounting.NaiveFormula"/>).</summary>
    [JsonPropertyName("naive_bytes")] public long? NaiveBytes { get; init; }

    /// <summary>Why there is no measurement; null when there is one.</summary>
    [JsonPropertyName("error")] public string? Error { get; init; }

    /// <summary>The configuration without backend and measurements, for matching rows of different files.</summary>
    [JsonIgnore] public ConfigurationKey Key => new(DType, HeadDim, Causal, SeqLen, Pass);
}
