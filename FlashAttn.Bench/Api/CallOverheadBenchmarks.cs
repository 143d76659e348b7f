using BenchmarkDotNet.Attributes;

namespace FlashAttn.Bench.Api;

/// <summary>
/// The public API's own cost per call, kernels excluded (they launch nothing): validation, allocating the outputs
/// (CPU memory here), dispatch on the dtype, freeing the results.
/// </summary>
public class CallOverheadBenchmarks : SmallProblemBenchmarks
{
    /// <summary>s_q = s_k.</summary>
    [Params(1, 64)] public int SeqLen { get; set; }

    /// <summary>Tensors on a CPU device that launches nothing.</summary>
    [GlobalSetup]
    public void Setup() => Open(NullKernelDevice(), SeqLen);

    /// <summary>FlashAttention.Forward with the lse, then disposing the result.</summary>
    [Benchmark(Baseline = true)]
    public void Forward() => FlashAttention.Forward(Problem.Q, Problem.K, Problem.V, SmallProblem.Options).Dispose();

    /// <summary>The non-generic overload (dtype dispatch at run time).</summary>
    [Benchmark]
    public void ForwardUntyped() => FlashAttention.Forward((DeviceTensor)Problem.Q, Problem.K, Problem.V, SmallProblem.Options).Dispose();

    /// <summary>FlashAttention.Backward, then disposing the gradients.</summary>
    [Benchmark]
    public void Backward()
        => FlashAttention.Backward(Problem.DOut, Problem.Q, Problem.K, Problem.V, Problem.Forward.Output, Problem.Forward.Lse!, SmallProblem.Options)
            .Dispose();
}
