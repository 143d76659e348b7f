using FlashAttn.Bench.Cli;
using FlashAttn.Bench.Results;

namespace FlashAttn.Bench.Attention;

/// <summary>The options of the <c>sweep</c> verb (the grid options are shared with <c>memory</c>).</summary>
/// <param name="Grid">What to run.</param>
/// <param name="Runs">Timed runs per configuration and pass (the median is reported).</param>
/// <param name="Warmup">Untimed runs first (clocks, caches), after the untimed call that compiles the kernels and measures the peak.</param>
/// <param name="BufferSets">Input sets the timed runs rotate through.</param>
/// <param name="JsonPath">Results file (rewritten after every configuration), or null.</param>
/// <param name="MarkdownPath">Markdown table file, or null (the table goes to stdout either way).</param>
/// <param name="Commit">The commit to record, or null to read bundle/COMMIT.</param>
/// <param name="Cpu">--device cpu: the CPU accelerator instead of CUDA device 0.</param>
/// <param name="SettleMs">Idle milliseconds before each configuration and pass (before its untimed call and warm-ups), so that
/// a pass is not timed at the clocks a long heavy pass before it left (0: none).</param>
/// <param name="WarmupMs">After the <paramref name="Warmup"/> runs, more untimed runs until this many milliseconds of them have
/// passed, so that a pass is timed under its own steady load, whatever the pass before it left (0: none).</param>
internal sealed record SweepOptions(SweepGrid Grid, int Runs, int Warmup, int BufferSets, string? JsonPath, string? MarkdownPath, string? Commit, bool Cpu,
    int SettleMs = 0, int WarmupMs = 0)
{
    /// <summary>The grid's options: what <see cref="ParseGrid"/> reads.</summary>
    public static IReadOnlyList<string> GridOptions { get; } =
        ["--dtypes", "--head-dims", "--seqlens", "--causal", "--passes", "--batch-tokens", "--model-dim", "--fp32-math", "--layout"];

    /// <summary>Every option of the verb.</summary>
    public static IReadOnlyList<string> ValueOptions { get; } =
        [.. GridOptions, DeviceOption.Name, "--runs", "--warmup", "--warmup-ms", "--buffer-sets", "--settle-ms", "--json", "--md", "--commit"];

    /// <summary>The verb's usage line.</summary>
    public const string Usage =
        "sweep [--device cuda|cpu] [--json FILE] [--md FILE] [--dtypes fp32,fp16,bf16] [--head-dims 64,128] " +
        "[--seqlens 512,1024,2048,4096,8192,16384] [--causal both|on|off] [--passes fwd,bwd,fwd_bwd] [--runs 10] [--warmup 3] " +
        "[--warmup-ms 0] [--buffer-sets 2] [--settle-ms 0] [--batch-tokens 16384] [--model-dim 2048] [--fp32-math exact|tensor-cores|auto] [--layout bshd|bhsd] [--commit SHA]";

    /// <summary>Reads the options; defaults are flash-attn's full grid, 10 runs after 3 warm-ups, 2 buffer sets.</summary>
    /// <exception cref="FormatException">A bad value.</exception>
    public static SweepOptions Parse(VerbArguments line) => new(
        ParseGrid(line), line.Positive("--runs", 10), line.NonNegative("--warmup", 3), line.Positive("--buffer-sets", 2),
        line.Value("--json"), line.Value("--md"), line.Value("--commit"), DeviceOption.ParseCpu(line), line.NonNegative("--settle-ms", 0),
        line.NonNegative("--warmup-ms", 0));

    /// <summary>Reads the grid options; flash-attn's grid by default.</summary>
    /// <exception cref="FormatException">A bad value.</exception>
    public static SweepGrid ParseGrid(VerbArguments line)
    {
        var full = SweepGrid.FlashAttn;
        var grid = new SweepGrid(
            line.Value("--dtypes") is null ? full.DTypes : [.. line.List("--dtypes", []).Select(DTypeNames.Parse)],
            line.Positives("--head-dims", full.HeadDims),
            line.Positives("--seqlens", full.SeqLens),
            line.Choice("--causal", "both", "both", "on", "off") switch { "on" => [true], "off" => [false], _ => [false, true] },
            line.Value("--passes") is null ? full.Passes : [.. line.List("--passes", []).Select(AttentionPasses.Parse)],
            line.Positive("--batch-tokens", SweepGrid.FlashAttnBatchTokens),
            line.Positive("--model-dim", SweepGrid.FlashAttnModelDim),
            line.Choice("--fp32-math", "exact", "exact", "tensor-cores", "auto") switch
            {
                "tensor-cores" => Fp32Math.TensorCores,
                "auto" => Fp32Math.Auto,
                _ => Fp32Math.Exact,
            },
            line.Choice("--layout", "bshd", "bshd", "bhsd") == "bhsd" ? AttentionLayout.BatchHeadSeqDim : AttentionLayout.BatchSeqHeadDim);
        // heads = model dim / d rounded down, as flash-attn's benchmark (d = 96: 21 heads of a 2048 model dim)
        foreach (int headDim in grid.HeadDims)
            if (headDim > grid.ModelDim)
                throw new FormatException($"--head-dims: {headDim} is larger than the model dim {grid.ModelDim}.");
        return grid;
    }
}
