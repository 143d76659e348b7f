using BenchmarkDotNet.Attributes;
using FlashAttn.Dispatch;

namespace FlashAttn.Bench.Api;

/// <summary>What argument checking costs per call: valid forward and backward arguments, and the two commonest mistakes.</summary>
public class ValidationBenchmarks
{
    private Device _device = null!;
    private SmallProblem _problem = null!;
    private DeviceTensor<float> _wrongHeadDim = null!;

    /// <summary>s_q = s_k.</summary>
    [Params(1, 64)] public int SeqLen { get; set; }

    /// <summary>Tensors on a CPU device that launches nothing.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _device = Device.Cpu();
        _device.AttentionKernels = NullAttentionKernels.Instance;
        _problem = new SmallProblem(_device, SeqLen);
        _wrongHeadDim = SmallProblem.Random(_device, SeqLen, SmallProblem.HeadDim / 2, seed: 5);
    }

    /// <summary>Frees the tensors and the device.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _wrongHeadDim.Dispose();
        _problem.Dispose();
        _device.Dispose();
    }

    /// <summary>Valid forward arguments.</summary>
    [Benchmark(Baseline = true)]
    public object ValidForward() => AttentionValidator.ValidateForward(_problem.Q, _problem.K, _problem.V, SmallProblem.Options);

    /// <summary>Valid backward arguments.</summary>
    [Benchmark]
    public object ValidBackward()
        => AttentionValidator.ValidateBackward(_problem.DOut, _problem.Q, _problem.K, _problem.V, _problem.Forward.Output, _problem.Forward.Lse,
            SmallProblem.Options);

    /// <summary>k's head dim differs from q's: the exception and its message.</summary>
    [Benchmark]
    public object InvalidForwardHeadDim() => Rejected(() => AttentionValidator.ValidateForward(_problem.Q, _wrongHeadDim, _wrongHeadDim, SmallProblem.Options));

    /// <summary>A null tensor.</summary>
    [Benchmark]
    public object InvalidForwardNull() => Rejected(() => AttentionValidator.ValidateForward(_problem.Q, null, _problem.V, SmallProblem.Options));

    private static ArgumentException Rejected(Action call)
    {
        try
        {
            call();
        }
        catch (ArgumentException e)
        {
            return e;
        }
        throw new InvalidOperationException("the validator accepted invalid arguments.");
    }
}
