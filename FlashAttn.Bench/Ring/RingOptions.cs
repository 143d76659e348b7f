using FlashAttn.Bench.Cli;
using FlashAttn.Bench.Results;

namespace FlashAttn.Bench.Ring;

/// <summary>The options of the <c>ring</c> verb.</summary>
/// <param name="Ranks">--gpus: ranks of the ring, or null for every GPU (nccl) / every GPU but at least 2 (inprocess).</param>
/// <param name="DType">fp16 or bf16.</param>
/// <param name="Tokens">Total sequence length of the weak-scaling measurement (0: skipped).</param>
/// <param name="Heads">h (query heads = kv heads).</param>
/// <param name="HeadDim">d.</param>
/// <param name="CheckTokens">Total sequence length of the correctness check against one GPU (0: skipped).</param>
/// <param name="Largest">--largest: search the largest total length whose forward + backward runs.</param>
/// <param name="LargestMax">The search's last (largest) length tried.</param>
/// <param name="Nccl">True for --transport nccl, false for inprocess.</param>
/// <param name="OutDirectory">Where the results (JSON and markdown) go.</param>
/// <param name="Runs">Timed runs per pass (median).</param>
/// <param name="Warmup">Untimed runs before them.</param>
/// <param name="Commit">The commit to record, or null to read bundle/COMMIT.</param>
internal sealed record RingOptions(int? Ranks, DType DType, int Tokens, int Heads, int HeadDim, int CheckTokens, bool Largest, int LargestMax,
    bool Nccl, string OutDirectory, int Runs, int Warmup, string? Commit)
{
    /// <summary>b: one sequence.</summary>
    public const int Batch = 1;

    /// <summary>The first length of the largest-sequence search (doubled until forward + backward fails).</summary>
    public const int LargestStart = 131072;

    /// <summary>The verb's usage line.</summary>
    public const string Usage =
        "ring [--gpus N] [--dtype fp16|bf16] [--tokens 1048576] [--heads 16] [--head-dim 128] [--check-tokens 8192] [--largest] " +
        "[--largest-max 16777216] [--transport nccl|inprocess] [--runs 5] [--warmup 2] [--out DIR] [--commit SHA]";

    /// <summary>Options that take a value.</summary>
    public static IReadOnlyList<string> ValueOptions { get; } =
        ["--gpus", "--dtype", "--tokens", "--heads", "--head-dim", "--check-tokens", "--largest-max", "--transport", "--runs", "--warmup", "--out", "--commit"];

    /// <summary>Flags.</summary>
    public static IReadOnlyList<string> Flags { get; } = ["--largest"];

    /// <summary>"nccl" or "inprocess".</summary>
    public string Transport => Nccl ? "nccl" : "inprocess";

    /// <summary>Reads the options.</summary>
    /// <exception cref="FormatException">A bad value.</exception>
    public static RingOptions Parse(VerbArguments line) => new(
        line.Value("--gpus") is null ? null : line.Positive("--gpus", 0),
        DTypeNames.Parse(line.Choice("--dtype", "fp16", "fp16", "bf16")),
        line.NonNegative("--tokens", 1 << 20),
        line.Positive("--heads", 16),
        line.Positive("--head-dim", 128),
        line.NonNegative("--check-tokens", 8192),
        line.Flag("--largest"),
        line.Positive("--largest-max", 1 << 24),
        line.Choice("--transport", "nccl", "nccl", "inprocess") == "nccl",
        line.Value("--out", "results")!,
        line.Positive("--runs", 5),
        line.NonNegative("--warmup", 2),
        line.Value("--commit"));

    /// <summary>
    /// Null when every length fits <paramref name="ranks"/> ranks (zig-zag needs multiples of 2·ranks, the check's host
    /// copies at most int.MaxValue elements); else what is wrong.
    /// </summary>
    public string? Check(int ranks)
    {
        int chunks = 2 * ranks;
        long row = (long)Heads * HeadDim;
        if (Tokens % chunks != 0) return $"--tokens {Tokens} is not a multiple of {chunks} (zig-zag sharding over {ranks} ranks cuts 2·{ranks} chunks).";
        if (CheckTokens % chunks != 0) return $"--check-tokens {CheckTokens} is not a multiple of {chunks} (zig-zag sharding over {ranks} ranks).";
        if (CheckTokens * row > Array.MaxLength) return $"--check-tokens {CheckTokens} × {Heads} heads × {HeadDim} is past what a host array holds.";
        return null;
    }
}
