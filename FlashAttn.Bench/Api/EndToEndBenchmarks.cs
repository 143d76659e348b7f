using BenchmarkDotNet.Attributes;

namespace FlashAttn.Bench.Api;

/// <summary>
/// Small shapes end to end through the public API with real kernels, waiting for the result: the CPU accelerator
/// always, the GPU where there is one. At these sizes the figure is launch and synchronization cost, not arithmetic.
/// </summary>
public class EndToEndBenchmarks : SmallProblemBenchmarks
{
    /// <summary>The devices to run on: "cpu", and "cuda" when a GPU is present.</summary>
    public static IEnumerable<string> Devices => Device.IsCudaAvailable ? ["cpu", "cuda"] : ["cpu"];

    /// <summary>"cpu" or "cuda".</summary>
    [ParamsSource(nameof(Devices))] public string DeviceName { get; set; } = "cpu";

    /// <summary>s_q = s_k.</summary>
    [Params(1, 16, 64)] public int SeqLen { get; set; }

    /// <summary>Opens the device and fills the tensors (the kernels compile in the first, warm-up, call).</summary>
    [GlobalSetup]
    public void Setup() => Open(DeviceName == "cuda" ? Device.Cuda() : Device.Cpu(), SeqLen);

    /// <summary>Forward, synchronized.</summary>
    [Benchmark(Baseline = true)]
    public void Forward()
    {
        using var result = FlashAttention.Forward(Problem.Q, Problem.K, Problem.V, SmallProblem.Options);
        Device.Synchronize();
    }

    /// <summary>Forward then backward, synchronized.</summary>
    [Benchmark]
    public void ForwardBackward()
    {
        using var result = FlashAttention.Forward(Problem.Q, Problem.K, Problem.V, SmallProblem.Options);
        using var gradients = FlashAttention.Backward(Problem.DOut, Problem.Q, Problem.K, Problem.V, result.Output, result.Lse!, SmallProblem.Options);
        Device.Synchronize();
    }
}
