using System.Text.Json.Serialization;

namespace FlashAttn.Bench.Results;

/// <summary>A results file: where and how the results were taken, then the results.</summary>
internal sealed record BenchRun
{
    /// <summary>Device name (the GPU's, or "CPU (n cores)").</summary>
    [JsonPropertyName("device")] public required string Device { get; init; }

    /// <summary>Driver version, e.g. "CUDA 13.0 (13000)".</summary>
    [JsonPropertyName("driver")] public required string Driver { get; init; }

    /// <summary>The code's commit (from --commit or bundle/COMMIT), "unknown" when neither.</summary>
    [JsonPropertyName("commit")] public required string Commit { get; init; }

    /// <summary>When the run started, ISO 8601 UTC.</summary>
    [JsonPropertyName("date")] public required string Date { get; init; }

    /// <summary>The command line that produced the file.</summary>
    [JsonPropertyName("command")] public required string Command { get; init; }

    /// <summary>One row per backend, configuration and pass.</summary>
    [JsonPropertyName("results")] public required IReadOnlyList<BenchResult> Results { get; init; }

    /// <summary>Method notes (FLOP and memory formulas, what the timing includes); not part of the shared schema.</summary>
    [JsonPropertyName("notes"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Notes { get; init; }

    /// <summary>The <c>memory</c> verb's limits (largest sequence length, confirming run); null elsewhere.</summary>
    [JsonPropertyName("memory_limits"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Memory.MemoryLimits? MemoryLimits { get; init; }
}
