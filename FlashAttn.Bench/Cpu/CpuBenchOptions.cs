using FlashAttn.Bench.Cli;

namespace FlashAttn.Bench.Cpu;

/// <summary>Options of the <c>cpu</c> verb; defaults are issue 12's grid (fp32, b = 1, h = 8).</summary>
internal sealed record CpuBenchOptions(
    int Threads, IReadOnlyList<int> SeqLens, IReadOnlyList<int> HeadDims, IReadOnlyList<bool> Causal, IReadOnlyList<string> Passes,
    int Batch, int Heads, int Repeats, int WarmupMs, string? Json)
{
    public const string Usage =
        "cpu [--threads N] [--seqlens 512,1024,2048,4096] [--headdims 64,128] [--causal false,true] [--passes fwd,fwd+bwd] " +
        "[--batch 1] [--heads 8] [--repeats 3] [--warmup-ms 500] [--json FILE]";

    public static readonly string[] ValueOptions =
        ["--threads", "--seqlens", "--headdims", "--causal", "--passes", "--batch", "--heads", "--repeats", "--warmup-ms", "--json"];

    public static CpuBenchOptions Parse(VerbArguments line) => new(
        line.Positive("--threads", Environment.ProcessorCount),
        line.Positives("--seqlens", [512, 1024, 2048, 4096]),
        line.Positives("--headdims", [64, 128]),
        [.. line.List("--causal", ["false", "true"]).Select(text => bool.TryParse(text, out bool value) ? value
            : throw new FormatException($"--causal takes true and/or false, not '{text}'."))],
        [.. line.List("--passes", ["fwd", "fwd+bwd"]).Select(text => text is "fwd" or "fwd+bwd" ? text
            : throw new FormatException($"--passes takes fwd and/or fwd+bwd, not '{text}'."))],
        line.Positive("--batch", 1),
        line.Positive("--heads", 8),
        line.Positive("--repeats", 3),
        line.NonNegative("--warmup-ms", 500),
        line.Value("--json"));
}
