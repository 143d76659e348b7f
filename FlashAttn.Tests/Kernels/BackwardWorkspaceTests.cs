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
        var shape = new AttentionShape(1, 37, 41, headsQ, headsKV, 16);
        var settings = new AttentionSettings(0.25f, Causal: true);
        using var accelerator = new CpuAccelerator();
        var random = new Random(5);
        MemoryBuffer<float> Random(long n)
        {
            var buffer = accelerator.Allocate<float>(n);
            buffer.CopyFromHost([.. Enumerable.Range(0, (int)n).Select(_ => (float)random.NextDouble() - 0.45f)]);
            return buffer;
        }
        long qCount = 37 * headsQ * 16, kCount = 41 * headsKV * 16;
        using var q = Random(qCount);
        using var k = Random(kCount);
        using var v = Random(kCount);
        using var dOutput = Random(qCount);
        using var output = accelerator.Allocate<float>(qCount);
        using var lse = accelerator.Allocate<float>(37 * headsQ);
        using var dq = accelerator.Allocate<float>(qCount);
        using var dk = accelerator.Allocate<float>(kCount);
        using var dv = accelerator.Allocate<float>(kCount);
        AttentionLauncher.Forward(accelerator, shape, settings, q.View, k.View, v.View, output.View, lse.View);
        long held = accelerator.AllocatedBytes;

        AttentionLauncher.Backward(accelerator, shape, settings, q.View, k.View, v.View, output.View, dOutput.View, lse.View, dq.View, dk.View, dv.View);
        long afterFirst = accelerator.AllocatedBytes;
        var first = dq.ToArray();
        AttentionLauncher.Backward(accelerator, shape, settings, q.View, k.View, v.View, output.View, dOutput.View, lse.View, dq.View, dk.View, dv.View);

        Assert.Multiple(() =>
        {
            Assert.That(afterFirst - held, Is.EqualTo(AttentionLauncher.BackwardWorkspaceBytes(shape, settings, sizeof(float))), "the workspaces stay, idle");
            Assert.That(afterFirst - held, headsQ == headsKV ? Is.EqualTo(37 * headsQ * sizeof(float)) : Is.GreaterThan(qCount * sizeof(float)));
            Assert.That(accelerator.Cache.IdleBytes, Is.EqualTo(afterFirst - held));
            Assert.That(accelerator.AllocatedBytes, Is.EqualTo(afterFirst), "the second call allocated nothing");
            Assert.That(dq.ToArray(), Is.EqualTo(first).Within(1e-6f), "reused workspaces start clean (dQ accumulator zeroed)");
        });
    }

    [TestCase(2, 1, TestName = "fp16 with GQA: per-query-head fp32 dK and dV, summed by the convert pass")]
    [TestCase(2, 2, TestName = "fp16 without GQA: the tensor-core kernel stores dk and dv, the workspace is D and the dQ accumulator")]
    public void Fp16WorkspaceHoldsPerQueryHeadKeyGradientsOnlyWithGqa(int headsQ, int headsKV)
    {
        var shape = new AttentionShape(1, 37, 41, headsQ, headsKV, 16);
        var settings = new AttentionSettings(0.25f, Causal: false);
        using var accelerator = new CpuAccelerator();
        var random = new Random(6);
        MemoryBuffer<Half> Random(long n)
        {
            var buffer = accelerator.Allocate<Half>(n);
            buffer.CopyFromHost([.. Enumerable.Range(0, (int)n).Select(_ => (Half)(random.NextDouble() - 0.45))]);
            return buffer;
        }
        long qCount = 37 * headsQ * 16, kCount = 41 * headsKV * 16, rows = 37 * headsQ;
        using var q = Random(qCount);
        using var k = Random(kCount);
        using var v = Random(kCount);
        using var dOutput = Random(qCount);
        using var output = accelerator.Allocate<Half>(qCount);
        using var lse = accelerator.Allocate<float>(rows);
        using var dq = accelerator.Allocate<Half>(qCount);
        using var dk = accelerator.Allocate<Half>(kCount);
        using var dv = accelerator.Allocate<Half>(kCount);
        AttentionLauncher.Forward(accelerator, shape, settings, q.View, k.View, v.View, output.View, lse.View);
        long held = accelerator.AllocatedBytes;
        AttentionLauncher.Backward(accelerator, shape, settings, q.View, k.View, v.View, output.View, dOutput.View, lse.View, dq.View, dk.View, dv.View);
        long workspace = accelerator.AllocatedBytes - held, perQueryHead = 2L * 41 * headsQ * 16 * sizeof(float);
        Assert.Multiple(() =>
        {
            Assert.That(workspace, Is.EqualTo(AttentionLauncher.BackwardWorkspaceBytes(shape, settings, elementBytes: 2)));
            Assert.That(workspace, Is.EqualTo(rows * sizeof(float) + qCount * sizeof(float) + (headsQ == headsKV ? 0 : perQueryHead)));
            Assert.That(dk.ToArray().Select(x => (float)x), Has.Some.Not.EqualTo(0f), "dk written");
        });
    }
}
