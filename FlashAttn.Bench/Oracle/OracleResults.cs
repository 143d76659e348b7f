using System.Text.Json.Serialization;

namespace FlashAttn.Bench.Oracle;

/// <summary>The oracle's output, <c>results.json</c> beside the manifest.</summary>
/// <param name="Device">The device the cases ran on.</param>
/// <param name="Cases">One status per case of the manifest, in its order.</param>
internal sealed record OracleResults(
    [property: JsonPropertyName("device")] string Device,
    [property: JsonPropertyName("cases")] IReadOnlyList<OracleStatus> Cases);
