using System.Text.Json.Serialization;

namespace FlashAttn.Bench.Oracle;

/// <summary>The oracle's input, <c>cases.json</c>: <c>{"cases": [ ... ]}</c>.</summary>
internal sealed record OracleManifest
{
    /// <summary>The cases, run in order.</summary>
    [JsonPropertyName("cases")] public required IReadOnlyList<OracleCase> Cases { get; init; }
}
