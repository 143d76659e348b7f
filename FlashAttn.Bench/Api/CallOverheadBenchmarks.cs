using BenchmarkDotNet.Attributes;

namespace FlashAttn.Bench.Api;

/// <summary>
/// The public API's own cost per call, kernels excluded (they launch nothing): validation, allocating the outputs
/// (CPU memory here), dispatch on the dtype, freeing the results.
/// </summary>
public class CallOverheadBenchmarks
{
    private Device _device = null!;
    private SmallProblem _problem = null!;

    /// <summary>s_q = s_k.</summary>
    [Params(1, 64)] public int SeqLen { get; set; }

    /// <summary>Tensors on a CPU device that launches nothing.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _device = Device.Cpu();
        _device.AttentionKernels = NullAttentionKernels.Instance;
        _problem = new SmallProblem(_device, SeqLen);
    }

    /// <summary>Frees the tensors and the device.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _problem.Dispose();
        _device.Dispose();
    }

    /// <summary>FlashAttention.Forward with the lse, then disposing the result.</summary>
    [Benchmark(Baseline = true)]
    public void Forward() => FlashAttention.Forward(_problem.Q, _problem.K, _problem.V, SmallProblem.Options).Dispose();

    /// <summary>The non-generic overload (dtype dispatch at run time).</summary>
    [Benchmark]
    public void ForwardUntyped() => FlashAttention.Forward((DeviceTensor)_problem.Q, _problem.K, _problem.V, SmallProblem.Options).Dispose();

    /// <summary>FlashAttention.Backward, then disposing the gradients.</summary>
    [Benchmark]
    public void Backward()
        => FlashAttention.Backward(_problem.DOut, _problem.Q, _problem.K, _problem.V, _problem.Forward.Output, _problem.Forward.Lse!, SmallProblem.Options)
            .Dispose();
}
