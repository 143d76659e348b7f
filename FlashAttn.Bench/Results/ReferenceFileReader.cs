using System.Text.Json;
using FlashAttn.Bench.Attention;

namespace FlashAttn.Bench.Results;

/// <summary>
/// Reads PyTorch's flat reference file (shared/reference/h100-pytorch-sdpa-*.json): an array of rows
/// {dtype: "float16", d, causal, n, "{backend}_{fwd|fwdbwd}_{ms|tflops}": number or "x"}, where "efficient" is
/// mem_efficient and "x" marks a backend that does not support the configuration. Batch and heads are not in the
/// file: it holds flash-attn's grid (batch·n = 16384, heads = 2048 / d).
/// </summary>
internal static class ReferenceFileReader
{
    /// <summary>The file's backend prefixes and their names in the shared schema.</summary>
    private static readonly (string Prefix, string Backend)[] BackendPrefixes =
        [("flash", "flash"), ("cudnn", "cudnn"), ("efficient", "mem_efficient"), ("math", "math"), ("naive", "naive")];

    /// <summary>The file's pass suffixes.</summary>
    private static readonly (string Suffix, AttentionPass Pass)[] PassSuffixes =
        [("fwd", AttentionPass.Forward), ("fwdbwd", AttentionPass.ForwardBackward)];

    /// <summary>Converts the array <paramref name="rows"/> to a run of the shared schema.</summary>
    /// <exception cref="FormatException">A row lacks dtype, d, causal or n.</exception>
    public static BenchRun Read(JsonElement rows, string source)
    {
        var results = new List<BenchResult>();
        foreach (var row in rows.EnumerateArray())
        {
            var dtype = DTypeNames.Parse(Required(row, "dtype", source).GetString() ?? "");
            int headDim = Required(row, "d", source).GetInt32();
            bool causal = Required(row, "causal", source).GetBoolean();
            int seqLen = Required(row, "n", source).GetInt32();
            foreach (var (prefix, backend) in BackendPrefixes)
            foreach (var (suffix, pass) in PassSuffixes)
            {
                double? ms = Number(row, $"{prefix}_{suffix}_ms");
                double? tflops = Number(row, $"{prefix}_{suffix}_tflops");
                string? error = row.TryGetProperty($"{prefix}_{suffix}_tflops", out var mark) && mark.ValueKind == JsonValueKind.String
                    ? $"not supported by this backend ('{mark.GetString()}' in the reference file)"
                    : null;
                if (ms is null && tflops is null && error is null) continue;
                results.Add(new BenchResult
                {
                    Backend = backend,
                    DType = dtype,
                    HeadDim = headDim,
                    Causal = causal,
                    Batch = Math.Max(1, SweepGrid.FlashAttnBatchTokens / seqLen),
                    SeqLen = seqLen,
                    Heads = SweepGrid.FlashAttnModelDim / headDim,
                    Pass = pass,
                    Ms = ms,
                    Tflops = tflops,
                    Error = error,
                });
            }
        }
        return new BenchRun
        {
            Device = $"reference file {source}",
            Driver = "unknown",
            Commit = "unknown",
            Date = "unknown",
            Command = "PyTorch SDPA reference (flat schema)",
            Results = results,
        };
    }

    private static JsonElement Required(JsonElement row, string name, string source)
        => row.TryGetProperty(name, out var value) ? value : throw new FormatException($"{source}: a row lacks \"{name}\".");

    private static double? Number(JsonElement row, string name)
        => row.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null;
}
