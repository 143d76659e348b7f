using System.Text.Json.Serialization;

namespace FlashAttn.Bench.Oracle;

/// <summary>What became of one case, in <c>results.json</c> (no timings: the oracle checks numbers, not speed).</summary>
/// <param name="Name">The case's name.</param>
/// <param name="Status">"ok" (o, lse, dq, dk, dv written) or "error".</param>
/// <param name="Error">The exception's type and message when <paramref name="Status"/> is "error", else null.</param>
internal sealed record OracleStatus(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("error")] string? Error);
