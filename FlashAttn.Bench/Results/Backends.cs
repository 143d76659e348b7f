namespace FlashAttn.Bench.Results;

/// <summary>The backend names of the results files: ours and PyTorch's SDPA backends plus a naive matmul-softmax-matmul.</summary>
internal static class Backends
{
    /// <summary>This library.</summary>
    public const string FlashAttn = "flashattn";

    /// <summary>PyTorch's backends and the naive baseline, in legend order.</summary>
    public static IReadOnlyList<string> PyTorch { get; } = ["flash", "cudnn", "mem_efficient", "math", "naive"];

    /// <summary>Every backend, ours first.</summary>
    public static IReadOnlyList<string> All { get; } = [FlashAttn, .. PyTorch];
}
