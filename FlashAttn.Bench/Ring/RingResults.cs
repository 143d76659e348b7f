using System.Text.Json;
using System.Text.Json.Serialization;
using FlashAttn.Bench.Results;

namespace FlashAttn.Bench.Ring;

/// <summary>The <c>ring</c> verb's results file: where it ran, then the three measurements (null when skipped).</summary>
internal sealed record RingRun
{
    /// <summary>GPU 0's name.</summary>
    [JsonPropertyName("device")] public required string Device { get; init; }

    /// <summary>Driver version, e.g. "CUDA 13.0 (13000)".</summary>
    [JsonPropertyName("driver")] public required string Driver { get; init; }

    /// <summary>The code's commit (from --commit or bundle/COMMIT), "unknown" when neither.</summary>
    [JsonPropertyName("commit")] public required string Commit { get; init; }

    /// <summary>When the run started, ISO 8601 UTC.</summary>
    [JsonPropertyName("date")] public required string Date { get; init; }

    /// <summary>The command line that produced the file.</summary>
    [JsonPropertyName("command")] public required string Command { get; init; }

    /// <summary>The name of each GPU used, GPU 0 first.</summary>
    [JsonPropertyName("gpus")] public required IReadOnlyList<string> Gpus { get; init; }

    /// <summary>"nccl" or "inprocess".</summary>
    [JsonPropertyName("transport")] public required string Transport { get; init; }

    /// <summary>NCCL's version, or null (in process, or no group was made).</summary>
    [JsonPropertyName("nccl")] public string? Nccl { get; init; }

    /// <summary>Ranks of the ring (N).</summary>
    [JsonPropertyName("ranks")] public required int Ranks { get; init; }

    /// <summary>Element type of q, k, v and the outputs.</summary>
    [JsonPropertyName("dtype"), JsonConverter(typeof(DTypeJsonConverter))] public required DType DType { get; init; }

    /// <summary>b.</summary>
    [JsonPropertyName("batch")] public required int Batch { get; init; }

    /// <summary>h (query heads = kv heads).</summary>
    [JsonPropertyName("heads")] public required int Heads { get; init; }

    /// <summary>d.</summary>
    [JsonPropertyName("head_dim")] public required int HeadDim { get; init; }

    /// <summary>Always true: the benchmark's mask.</summary>
    [JsonPropertyName("causal")] public bool Causal => true;

    /// <summary>Always "zigzag".</summary>
    [JsonPropertyName("sharding")] public string Sharding => "zigzag";

    /// <summary>The ring against one GPU; null when skipped.</summary>
    [JsonPropertyName("check")] public RingCheck? Check { get; init; }

    /// <summary>Weak scaling; null when skipped.</summary>
    [JsonPropertyName("scaling")] public RingScaling? Scaling { get; init; }

    /// <summary>The largest-sequence search; null without --largest.</summary>
    [JsonPropertyName("largest")] public RingLargest? Largest { get; init; }

    /// <summary>What failed, one line each.</summary>
    [JsonPropertyName("errors")] public IReadOnlyList<string> Errors { get; init; } = [];

    /// <summary>How the numbers are made.</summary>
    [JsonPropertyName("notes")] public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>Writes the run to <paramref name="path"/> through a temporary file (a killed run leaves the last complete file).</summary>
    public void Write(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, ResultsFile.Options));
        File.Move(temporary, path, overwrite: true);
    }
}

/// <summary>The ring's outputs and gradients against single-GPU attention over the same global inputs.</summary>
/// <param name="Tokens">The global sequence length.</param>
/// <param name="Tensors">One comparison per tensor: output, lse, dq, dk, dv.</param>
internal sealed record RingCheck(
    [property: JsonPropertyName("tokens")] int Tokens,
    [property: JsonPropertyName("tensors")] IReadOnlyList<TensorComparison> Tensors)
{
    /// <summary>True when every tensor is within its bound.</summary>
    [JsonPropertyName("passed")] public bool Passed => Tensors.All(t => t.Passed);
}

/// <summary>One tensor of the ring (scattered back to global positions) against the single-GPU one.</summary>
/// <param name="Name">"output", "lse", "dq", "dk" or "dv".</param>
/// <param name="MaxAbsError">max |ring − single|; NaN when either holds a non-finite value.</param>
/// <param name="MaxAbsReference">max |single|.</param>
/// <param name="Relative">True when the bound applies to <paramref name="MaxAbsError"/> / <paramref name="MaxAbsReference"/>.</param>
/// <param name="Bound">The largest error that passes.</param>
internal sealed record TensorComparison(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("max_abs_error")] double MaxAbsError,
    [property: JsonPropertyName("max_abs_reference")] double MaxAbsReference,
    [property: JsonPropertyName("relative")] bool Relative,
    [property: JsonPropertyName("bound")] double Bound)
{
    /// <summary>The error held against <see cref="Bound"/>: absolute, or relative to the reference's largest magnitude.</summary>
    [JsonPropertyName("error")] public double Error => Relative ? MaxAbsError / MaxAbsReference : MaxAbsError;

    /// <summary>Finite, within the bound, and the reference is not all zeros.</summary>
    [JsonPropertyName("passed")] public bool Passed => double.IsFinite(Error) && Error <= Bound && MaxAbsReference > 0;
}

/// <summary>Weak scaling: the ring over the whole sequence against one GPU at one rank's share of it.</summary>
/// <param name="Tokens">S, the global sequence length.</param>
/// <param name="TokensPerRank">S / N, also the single-GPU call's length.</param>
/// <param name="Runs">Timed runs per pass.</param>
/// <param name="Warmup">Untimed runs before them.</param>
/// <param name="Passes">Forward, and forward + backward.</param>
internal sealed record RingScaling(
    [property: JsonPropertyName("tokens")] int Tokens,
    [property: JsonPropertyName("tokens_per_rank")] int TokensPerRank,
    [property: JsonPropertyName("runs")] int Runs,
    [property: JsonPropertyName("warmup")] int Warmup,
    [property: JsonPropertyName("passes")] IReadOnlyList<ScalingPass> Passes);

/// <summary>One pass of the weak-scaling measurement.</summary>
/// <param name="Pass">fwd or fwd_bwd.</param>
/// <param name="RingMs">Median step time of the ring (each iteration's slowest rank).</param>
/// <param name="RingTflopsPerRank">FLOPs of the whole sequence / N / <paramref name="RingMs"/>.</param>
/// <param name="RingMsPerRank">Each rank's own median, for spotting a slow GPU or link.</param>
/// <param name="SingleMs">Median time of one GPU at S / N.</param>
/// <param name="SingleTflops">FLOPs at S / N / <paramref name="SingleMs"/>.</param>
internal sealed record ScalingPass(
    [property: JsonPropertyName("pass")] AttentionPass Pass,
    [property: JsonPropertyName("ring_ms")] double RingMs,
    [property: JsonPropertyName("ring_tflops_per_rank")] double RingTflopsPerRank,
    [property: JsonPropertyName("ring_ms_per_rank")] IReadOnlyList<double> RingMsPerRank,
    [property: JsonPropertyName("single_ms")] double SingleMs,
    [property: JsonPropertyName("single_tflops")] double SingleTflops)
{
    /// <summary>The target for <see cref="Ratio"/>.</summary>
    public const double Target = 0.85;

    /// <summary>Ring per-rank TFLOP/s / single-GPU TFLOP/s.</summary>
    [JsonPropertyName("ratio")] public double Ratio => RingTflopsPerRank / SingleTflops;

    /// <summary><see cref="Ratio"/> ≥ <see cref="Target"/>.</summary>
    [JsonPropertyName("target_met")] public bool TargetMet => Ratio >= Target;
}

/// <summary>The largest-sequence search: total lengths doubled until forward + backward fails.</summary>
/// <param name="Probes">Every length tried, in order.</param>
/// <param name="LargestTokens">The largest total length that ran (0 when none did).</param>
/// <param name="StoppedBy">"out of memory", "error", "hung", or "--largest-max".</param>
internal sealed record RingLargest(
    [property: JsonPropertyName("probes")] IReadOnlyList<LargestProbe> Probes,
    [property: JsonPropertyName("largest_tokens")] int LargestTokens,
    [property: JsonPropertyName("stopped_by")] string StoppedBy);

/// <summary>One forward + backward of the search.</summary>
/// <param name="Tokens">Total sequence length.</param>
/// <param name="TokensPerRank">Tokens / N.</param>
/// <param name="Outcome">"ran", "out of memory", "error" or "hung".</param>
/// <param name="Ms">Step time of the one run (slowest rank, CUDA events, no warm-up at this length); null unless it ran.</param>
/// <param name="TflopsPerRank">FLOPs of the whole sequence / N / <paramref name="Ms"/>; null unless it ran.</param>
/// <param name="PeakBytes">The most device memory any rank's allocator held during the run; null unless it ran.</param>
/// <param name="Error">Why it did not run; null when it did.</param>
internal sealed record LargestProbe(
    [property: JsonPropertyName("tokens")] int Tokens,
    [property: JsonPropertyName("tokens_per_rank")] int TokensPerRank,
    [property: JsonPropertyName("outcome")] string Outcome,
    [property: JsonPropertyName("ms")] double? Ms,
    [property: JsonPropertyName("tflops_per_rank")] double? TflopsPerRank,
    [property: JsonPropertyName("peak_bytes")] long? PeakBytes,
    [property: JsonPropertyName("error")] string? Error);
