using BenchmarkDotNet.Attributes;
using FlashAttn.Dispatch;

namespace FlashAttn.Bench.Api;

/// <summary>What argument checking costs per call: valid forward and backward arguments, and the two commonest mistakes.</summary>
public class ValidationBenchmarks : SmallProblemBenchmarks
{
    private DeviceTensor<float> _wrongHeadDim = null!;

    /// <summary>s_q = s_k.</summary>
    [Params(1, 64)] public int SeqLen { get; set; }

    /// <summary>Tensors on a CPU device that launches nothing.</summary>
    [GlobalSetup]
    public void Setup()
    {
        Open(NullKernelDevice(), SeqLen);
        _wrongHeadDim = Own(SmallProblem.Random(Device, SeqLen, SmallProblem.HeadDim / 2, seed: 5));
    }

    /// <summary>Valid forward arguments.</summary>
    [Benchmark(Baseline = true)]
    public object ValidForward() => AttentionValidator.ValidateForward(Problem.Q, Problem.K, Problem.V, SmallProblem.Options);

    /// <summary>Valid backward arguments.</summary>
    [Benchmark]
    public object ValidBackward()
        => AttentionValidator.ValidateBackward(Problem.DOut, Problem.Q, Problem.K, Problem.V, Problem.Forward.Output, Problem.Forward.Lse,
            SmallProblem.Options);

    /// <summary>k's head dim differs from q's: the exception and its message.</summary>
    [Benchmark]
    public object InvalidForwardHeadDim() => Rejected(() => AttentionValidator.ValidateForward(Problem.Q, _wrongHeadDim, _wrongHeadDim, SmallProblem.Options));

    /// <summary>A null tensor.</summary>
    [Benchmark]
    public object InvalidForwardNull() => Rejected(() => AttentionValidator.ValidateForward(Problem.Q, null, Problem.V, SmallProblem.Options));

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
