using System.Text.Json.Serialization;

namespace FlashAttn.Bench.Memory;

/// <summary>One real forward + backward through the public API with its peak measured two ways.</summary>
internal sealed record MemoryConfirmation
{
    /// <summary>s_q = s_k.</summary>
    [JsonPropertyName("seqlen")] public required int SeqLen { get; init; }

    /// <summary><see cref="MemoryAccounting.Ours"/> for forward + backward.</summary>
    [JsonPropertyName("accounted_bytes")] public required long AccountedBytes { get; init; }

    /// <summary>Peak of the accelerator's allocation tracker above what was held before.</summary>
    [JsonPropertyName("tracked_peak_bytes")] public required long TrackedPeakBytes { get; init; }

    /// <summary>Free memory before the run minus the least free memory a polling thread saw (cuMemGetInfo); null off CUDA.</summary>
    [JsonPropertyName("driver_peak_bytes")] public long? DriverPeakBytes { get; init; }

    /// <summary>Wall-clock milliseconds of the forward + backward.</summary>
    [JsonPropertyName("ms")] public required double Ms { get; init; }

    /// <summary>True when the tracked peak equals the accounting.</summary>
    [JsonPropertyName("matches")] public required bool Matches { get; init; }
}
