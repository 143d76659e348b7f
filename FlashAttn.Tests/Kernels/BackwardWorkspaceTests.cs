using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cpu;
using FlashAttn.Kernels;

namespace FlashAttn.Tests.Kernels;

/// <summary>The backward's fp32 workspaces come from the accelerator's buffer cache: a second call allocates nothing.</summary>
public class BackwardWorkspaceTests
{
    [TestCase(2, 1, TestName = "GQA: fp32 accumulators, then a convert pass")]
    [TestCase(2, 2, TestName = "fp32 without GQA: the gradients are the accumulators, only D is workspace")]
    public void ASecondBackwardReusesTheFirstOnesWorkspaces(int headsQ, int headsKV)
    {
        using var call = new BackwardCall<float>(headsQ, headsKV, causal: true, seed: 5, x => (float)x);
        call.Backward();
        long afterFirst = call.Accelerator.AllocatedBytes;
        var first = call.Dq.ToArray();
        call.Backward();

        Assert.Multiple(() =>
        {
            Assert.That(afterFirst - call.Held, Is.EqualTo(AttentionLauncher.BackwardWorkspaceBytes(call.Shape, call.Settings, sizeof(float))), "the workspaces stay, idle");
            Assert.That(afterFirst - call.Held, headsQ == headsKV ? Is.EqualTo(call.Rows * sizeof(float)) : Is.GreaterThan(call.QueryElements * sizeof(float)));
            Assert.That(call.Accelerator.Cache.IdleBytes, Is.EqualTo(afterFirst - call.Held));
            Assert.That(call.Accelerator.AllocatedBytes, Is.EqualTo(afterFirst), "the second call allocated nothing");
            Assert.That(call.Dq.ToArray(), Is.EqualTo(first).Within(1e-6f), "reused workspaces start clean (dQ accumulator zeroed)");
        });
    }

    [TestCase(2, 1, TestName = "fp16 with GQA: per-query-head fp32 dK and dV, summed by the convert pass")]
    [TestCase(2, 2, TestName = "fp16 without GQA: the tensor-core kernel stores dk and dv, the workspace is D and the dQ accumulator")]
    public void Fp16WorkspaceHoldsPerQueryHeadKeyGradientsOnlyWithGqa(int headsQ, int headsKV)
    {
        using var call = new BackwardCall<Half>(headsQ, headsKV, causal: false, seed: 6, x => (Half)x);
        call.Backward();
        long workspace = call.Accelerator.AllocatedBytes - call.Held, perQueryHead = 2L * BackwardCall<Half>.KeyLength * headsQ * BackwardCall<Half>.HeadDim * sizeof(float);
        Assert.Multiple(() =>
        {
            Assert.That(workspace, Is.EqualTo(AttentionLauncher.BackwardWorkspaceBytes(call.Shape, call.Settings, elementBytes: 2)));
            Assert.That(workspace, Is.EqualTo(call.Rows * sizeof(float) + call.QueryElements * sizeof(float) + (headsQ == headsKV ? 0 : perQueryHead)));
            Assert.That(call.Dk.ToArray().Select(x => (float)x), Has.Some.Not.EqualTo(0f), "dk written");
        });
    }

    /// <summary>One attention shape (37 queries, 41 keys, d = 16) on the CPU accelerator with random inputs, its forward run;
    /// <see cref="Held"/> is the memory allocated before the first backward.</summary>
    private sealed class BackwardCall<T> : IDisposable where T : unmanaged
    {
        public const int QueryLength = 37, KeyLength = 41, HeadDim = 16;
        private readonly MemoryBuffer<T> _q, _k, _v, _dOutput, _output, _dv;
        private readonly MemoryBuffer<float> _lse;

        public BackwardCall(int headsQ, int headsKV, bool causal, int seed, Func<double, T> convert)
        {
            Shape = new AttentionShape(1, QueryLength, KeyLength, headsQ, headsKV, HeadDim);
            Settings = new AttentionSettings(0.25f, Causal: causal);
            var random = new Random(seed);
            MemoryBuffer<T> Random(long n)
            {
                var buffer = Accelerator.Allocate<T>(n);
                buffer.CopyFromHost([.. Enumerable.Range(0, (int)n).Select(_ => convert(random.NextDouble() - 0.45))]);
                return buffer;
            }
            Rows = QueryLength * headsQ;
            QueryElements = Rows * HeadDim;
            long keyElements = KeyLength * headsKV * HeadDim;
            _q = Random(QueryElements);
            _k = Random(keyElements);
            _v = Random(keyElements);
            _dOutput = Random(QueryElements);
            _output = Accelerator.Allocate<T>(QueryElements);
            _lse = Accelerator.Allocate<float>(Rows);
            Dq = Accelerator.Allocate<T>(QueryElements);
            Dk = Accelerator.Allocate<T>(keyElements);
            _dv = Accelerator.Allocate<T>(keyElements);
            AttentionLauncher.Forward(Accelerator, Shape, Settings, _q.View, _k.View, _v.View, _output.View, _lse.View);
            Held = Accelerator.AllocatedBytes;
        }

        public CpuAccelerator Accelerator { get; } = new();
        public AttentionShape Shape { get; }
        public AttentionSettings Settings { get; }
        public long Rows { get; }
        public long QueryElements { get; }
        public long Held { get; }
        public MemoryBuffer<T> Dq { get; }
        public MemoryBuffer<T> Dk { get; }

        public void Backward() => AttentionLauncher.Backward(Accelerator, Shape, Settings, _q.View, _k.View, _v.View, _output.View,
            _dOutput.View, _lse.View, Dq.View, Dk.View, _dv.View);

        public void Dispose()
        {
            foreach (var buffer in new IDisposable[] { _q, _k, _v, _dOutput, _output, _lse, Dq, Dk, _dv }) buffer.Dispose();
            Accelerator.Dispose();
        }
    }
}
