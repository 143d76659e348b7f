using System.Text.Json.Serialization;

namespace FlashAttn.Bench.Results;

/// <summary>What one timed call runs; its FLOPs are a multiple of the forward's (see <see cref="Attention.AttentionFlops"/>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<AttentionPass>))]
internal enum AttentionPass
{
    /// <summary>Forward only ("fwd").</summary>
    [JsonStringEnumMemberName("fwd")] Forward,

    /// <summary>Backward only, from a saved forward ("bwd").</summary>
    [JsonStringEnumMemberName("bwd")] Backward,

    /// <summary>Forward then backward ("fwd_bwd").</summary>
    [JsonStringEnumMemberName("fwd_bwd")] ForwardBackward,
}
