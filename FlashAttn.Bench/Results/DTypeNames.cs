namespace FlashAttn.Bench.Results;

/// <summary>The short dtype names of the results files ("fp32", "fp16", "bf16"), as PyTorch benchmark scripts write them.</summary>
internal static class DTypeNames
{
    /// <summary>The short name of <paramref name="dtype"/>.</summary>
    public static string Of(DType dtype) => dtype switch
    {
        DType.Float32 => "fp32",
        DType.Float16 => "fp16",
        _ => "bf16",
    };

    /// <summary>Parses a short name, or PyTorch's long one ("float16", "bfloat16", "float32").</summary>
    /// <exception cref="FormatException">Neither.</exception>
    public static DType Parse(string name) => name.ToLowerInvariant() switch
    {
        "fp32" or "float32" => DType.Float32,
        "fp16" or "float16" => DType.Float16,
        "bf16" or "bfloat16" => DType.BFloat16,
        _ => throw new FormatException($"unknown dtype '{name}': use fp32, fp16 or bf16."),
    };
}
