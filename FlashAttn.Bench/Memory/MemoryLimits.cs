using System.Text.Json.Serialization;
using FlashAttn.Bench.Results;

namespace FlashAttn.Bench.Memory;

/// <summary>
/// The <c>memory</c> verb's limit search: the largest sequence length whose forward + backward buffers all allocate
/// on the device, and one real forward + backward at a moderate length whose measured peak is held against the
/// accounting.
/// </summary>
internal sealed record MemoryLimits
{
    /// <summary>Element type searched.</summary>
    [JsonPropertyName("dtype"), JsonConverter(typeof(DTypeJsonConverter))] public required DType DType { get; init; }

    /// <summary>b.</summary>
    [JsonPropertyName("batch")] public required int Batch { get; init; }

    /// <summary>h.</summary>
    [JsonPropertyName("heads")] public required int Heads { get; init; }

    /// <summary>d.</summary>
    [JsonPropertyName("head_dim")] public required int HeadDim { get; init; }

    /// <summary>The search's granularity.</summary>
    [JsonPropertyName("step")] public required int Step { get; init; }

    /// <summary>The search's upper bound: the API's limit (a tensor holds at most int.MaxValue elements) or --search-max-seqlen.</summary>
    [JsonPropertyName("search_max_seqlen")] public required int SearchMaxSeqLen { get; init; }

    /// <summary>The largest multiple of <see cref="Step"/> whose buffers all allocated; 0 when none did.</summary>
    [JsonPropertyName("largest_seqlen")] public required int LargestSeqLen { get; init; }

    /// <summary>The accounted fwd+bwd bytes at <see cref="LargestSeqLen"/>.</summary>
    [JsonPropertyName("largest_seqlen_bytes")] public required long LargestSeqLenBytes { get; init; }

    /// <summary>What stopped the search: "device memory" or "search bound".</summary>
    [JsonPropertyName("bound")] public required string Bound { get; init; }

    /// <summary>The device's memory.</summary>
    [JsonPropertyName("total_memory")] public required long TotalMemory { get; init; }

    /// <summary>Free device memory before the search (cuMemGetInfo), null off CUDA.</summary>
    [JsonPropertyName("free_memory")] public long? FreeMemory { get; init; }

    /// <summary>The confirming run, null when skipped.</summary>
    [JsonPropertyName("confirmation")] public MemoryConfirmation? Confirmation { get; init; }
}
