using FlashAttn.Bench.Attention;
using FlashAttn.Bench.Cli;
using FlashAttn.Bench.Results;

namespace FlashAttn.Bench.Memory;

/// <summary>The options of the <c>memory</c> verb.</summary>
/// <param name="Grid">Configurations whose peak is measured (mask and passes ignored: memory depends on neither).</param>
/// <param name="MeasureGrid">False with --no-grid.</param>
/// <param name="Search">The limit search's problem: b, h, d and dtype (its seqlen is what is searched).</param>
/// <param name="SearchStep">Granularity of the search.</param>
/// <param name="SearchMaxSeqLen">Upper bound of the search, or null for the API's limit (CUDA) / 4096 (CPU).</param>
/// <param name="ConfirmSeqLen">Sequence length of the confirming forward + backward, or null for 32768 (CUDA) / 128 (CPU).</param>
/// <param name="RunSearch">False with --no-search.</param>
/// <param name="JsonPath">Results file, or null.</param>
/// <param name="MarkdownPath">Markdown file, or null.</param>
/// <param name="Commit">The commit to record, or null to read bundle/COMMIT.</param>
/// <param name="Cpu">--device cpu: the CPU accelerator instead of CUDA device 0.</param>
internal sealed record MemoryOptions(
    SweepGrid Grid, bool MeasureGrid, SweepConfiguration Search, int SearchStep, int? SearchMaxSeqLen, int? ConfirmSeqLen, bool RunSearch,
    string? JsonPath, string? MarkdownPath, string? Commit, bool Cpu)
{
    /// <summary>Options that take a value.</summary>
    public static IReadOnlyList<string> ValueOptions { get; } =
    [
        .. SweepOptions.GridOptions, DeviceOption.Name, "--json", "--md", "--commit", "--search-dtype", "--search-batch", "--search-heads",
        "--search-head-dim", "--search-step", "--search-max-seqlen", "--confirm-seqlen",
    ];

    /// <summary>Flags.</summary>
    public static IReadOnlyList<string> Flags { get; } = ["--no-grid", "--no-search"];

    /// <summary>The verb's usage line.</summary>
    public const string Usage =
        "memory [--device cuda|cpu] [--json FILE] [--md FILE] [--dtypes ..] [--head-dims ..] [--seqlens ..] [--batch-tokens N] [--model-dim N] " +
        "[--no-grid] [--search-dtype fp32] [--search-batch 1] [--search-heads 16] [--search-head-dim 128] [--search-step 1024] " +
        "[--search-max-seqlen N] [--confirm-seqlen 32768] [--no-search] [--commit SHA]";

    /// <summary>Reads the options.</summary>
    /// <exception cref="FormatException">A bad value.</exception>
    public static MemoryOptions Parse(VerbArguments line)
    {
        int heads = line.Positive("--search-heads", 16), headDim = line.Positive("--search-head-dim", 128);
        var search = new SweepConfiguration(DTypeNames.Parse(line.Value("--search-dtype", "fp32")!), headDim, Causal: false,
            line.Positive("--search-batch", 1), SeqLen: 0, heads);
        return new MemoryOptions(
            SweepOptions.ParseGrid(line), !line.Flag("--no-grid"), search, line.Positive("--search-step", 1024),
            line.Value("--search-max-seqlen") is null ? null : line.Positive("--search-max-seqlen", 0),
            line.Value("--confirm-seqlen") is null ? null : line.Positive("--confirm-seqlen", 0),
            !line.Flag("--no-search"), line.Value("--json"), line.Value("--md"), line.Value("--commit"), DeviceOption.ParseCpu(line));
    }
}
