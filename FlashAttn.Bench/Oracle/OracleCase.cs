using System.Text.Json.Serialization;
using FlashAttn.Bench.Results;

namespace FlashAttn.Bench.Oracle;

/// <summary>
/// One case of the oracle's manifest (<c>cases.json</c>, written by <c>scripts/gpu/torch_oracle.py</c>). Its inputs
/// lie in the folder <see cref="Name"/> beside the manifest: q.bin (b, s_q, h_q, d), k.bin and v.bin (b, s_k, h_kv, d),
/// do.bin like q, raw little-endian elements of <see cref="Dtype"/>.
/// </summary>
internal sealed record OracleCase
{
    /// <summary>The case's folder name (letters, digits, '_' , '-', '.').</summary>
    [JsonPropertyName("name")] public required string Name { get; init; }

    /// <summary>"fp32", "fp16" or "bf16".</summary>
    [JsonPropertyName("dtype")] public required string Dtype { get; init; }

    /// <summary>Batch b.</summary>
    [JsonPropertyName("b")] public required int Batch { get; init; }

    /// <summary>Query length s_q.</summary>
    [JsonPropertyName("s_q")] public required int SeqLenQ { get; init; }

    /// <summary>Key/value length s_k.</summary>
    [JsonPropertyName("s_k")] public required int SeqLenK { get; init; }

    /// <summary>Query heads h_q.</summary>
    [JsonPropertyName("h_q")] public required int HeadsQ { get; init; }

    /// <summary>Key/value heads h_kv.</summary>
    [JsonPropertyName("h_kv")] public required int HeadsKV { get; init; }

    /// <summary>Head dim d.</summary>
    [JsonPropertyName("d")] public required int HeadDim { get; init; }

    /// <summary>Causal mask on or off.</summary>
    [JsonPropertyName("causal")] public bool Causal { get; init; }

    /// <summary>"bottom_right" (flash-attn, torch's causal_lower_right) or "top_left" (torch's is_causal).</summary>
    [JsonPropertyName("alignment")] public string Alignment { get; init; } = "bottom_right";

    /// <summary>Softmax scale; null means 1/√d.</summary>
    [JsonPropertyName("scale")] public float? Scale { get; init; }

    /// <summary>Ask for the deterministic backward.</summary>
    [JsonPropertyName("deterministic")] public bool Deterministic { get; init; }

    /// <summary>Sliding window: keys left of the diagonal each query sees (−1: unbounded).</summary>
    [JsonPropertyName("window_left")] public int WindowLeft { get; init; } = -1;

    /// <summary>Sliding window: keys right of the diagonal each query sees (−1: unbounded).</summary>
    [JsonPropertyName("window_right")] public int WindowRight { get; init; } = -1;

    /// <summary>Softcap of the scores, or null.</summary>
    [JsonPropertyName("softcap")] public float? Softcap { get; init; }

    /// <summary>ALiBi with slope 2^(−8(h + 1)/h_q) for query head h (both sides compute the same slopes).</summary>
    [JsonPropertyName("alibi")] public bool Alibi { get; init; }

    /// <summary>The ALiBi slopes of <see cref="Alibi"/> (h_q floats).</summary>
    public float[] AlibiSlopes() => [.. Enumerable.Range(0, HeadsQ).Select(h => MathF.Pow(2f, -8f * (h + 1) / HeadsQ))];

    /// <summary>fp32 cases: "exact" (FFMA) or "tensor_cores" (3×TF32).</summary>
    [JsonPropertyName("fp32_math")] public string Fp32Math { get; init; } = "exact";

    /// <summary>The dtype as the API's <see cref="DType"/>.</summary>
    /// <exception cref="FormatException">An unknown dtype name.</exception>
    public DType ParseDtype() => DTypeNames.Parse(Dtype);

    /// <summary>The options of both passes (forward returns the log-sum-exp).</summary>
    /// <exception cref="InvalidDataException">An unknown alignment or fp32_math name.</exception>
    public AttentionOptions Options() => new()
    {
        Scale = Scale,
        Causal = Causal,
        CausalAlignment = Alignment switch
        {
            "bottom_right" => CausalAlignment.BottomRight,
            "top_left" => CausalAlignment.TopLeft,
            _ => throw new InvalidDataException($"alignment \"{Alignment}\": expected bottom_right or top_left."),
        },
        Deterministic = Deterministic,
        WindowLeft = WindowLeft,
        WindowRight = WindowRight,
        Softcap = Softcap,
        Fp32Math = Fp32Math switch
        {
            "exact" => FlashAttn.Fp32Math.Exact,
            "tensor_cores" => FlashAttn.Fp32Math.TensorCores,
            "auto" => FlashAttn.Fp32Math.Auto,
            _ => throw new InvalidDataException($"fp32_math \"{Fp32Math}\": expected exact, tensor_cores or auto."),
        },
        ReturnLse = true,
    };

    /// <summary>Shape of q, the output, do and dq.</summary>
    [JsonIgnore] public int[] QShape => [Batch, SeqLenQ, HeadsQ, HeadDim];

    /// <summary>Shape of k, v, dk and dv.</summary>
    [JsonIgnore] public int[] KvShape => [Batch, SeqLenK, HeadsKV, HeadDim];
}
