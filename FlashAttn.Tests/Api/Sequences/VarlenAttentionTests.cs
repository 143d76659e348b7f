using FlashAttn.Kernels;
using FlashAttn.Kernels.Reference;
using FlashAttn.Tests.Kernels;
using static FlashAttn.Tests.Api.Sequences.SequenceTestSupport;

namespace FlashAttn.Tests.Api.Sequences;

/// <summary>
/// <see cref="FlashAttention.ForwardVarlen{T}"/> and <see cref="FlashAttention.BackwardVarlen{T}"/> against
/// <see cref="SequenceReference"/>: mixed lengths with a sequence of 0 queries and one of 0 keys, GQA, every mask, every
/// dtype; on the CPU path and (smaller) on the GPU kernels run by the emulator.
/// </summary>
public class VarlenAttentionTests
{
    /// <summary>A varlen case: per-sequence query and key lengths, heads, head_dim, mask.</summary>
    public sealed record VarlenCase(SequenceDevice Device, AttentionDtype Dtype, int[] QueryLengths, int[] KeyLengths, int HeadsQ, int HeadsKV,
        int HeadDim, bool Causal, bool BottomRight, int WindowLeft = -1, int WindowRight = -1, Fp32Math Fp32Math = Fp32Math.Exact)
    {
        public override string ToString() => $"{Device} {Dtype} q[{string.Join(",", QueryLengths)}] k[{string.Join(",", KeyLengths)}] " +
            $"h{HeadsQ}/{HeadsKV} d{HeadDim}" + (Causal ? BottomRight ? " causal-br" : " causal-tl" : "") +
            (WindowLeft >= 0 || WindowRight >= 0 ? $" window({WindowLeft},{WindowRight}){(BottomRight ? "-br" : "-tl")}" : "") +
            (Fp32Math == Fp32Math.TensorCores ? " 3xtf32" : "");
    }

    public static IEnumerable<TestCaseData> Cases()
    {
        // sequence 1 has no queries, sequence 3 no keys; sequence 2 spans more than one 64-row block
        int[] cpuQ = [5, 0, 70, 3, 33], cpuK = [9, 4, 81, 0, 20];
        int mode = 0;
        foreach (var dtype in new[] { AttentionDtype.Fp32, AttentionDtype.Fp16, AttentionDtype.Bf16 })
            foreach (var (causal, bottomRight) in new[] { (false, true), (true, true), (true, false) })
            {
                var c = new VarlenCase(SequenceDevice.Cpu, dtype, cpuQ, cpuK, 4, 2, mode++ % 2 == 0 ? 40 : 72, causal, bottomRight);
                yield return new TestCaseData(c).SetName($"Varlen({c})");
            }
        int[] emuQ = [3, 0, 9, 2], emuK = [5, 2, 7, 0];
        foreach (var (dtype, causal, bottomRight) in new[] { (AttentionDtype.Fp32, false, true), (AttentionDtype.Fp16, true, true), (AttentionDtype.Bf16, true, false) })
        {
            var c = new VarlenCase(SequenceDevice.Emulator, dtype, emuQ, emuK, 2, 1, 16, causal, bottomRight);
            yield return new TestCaseData(c).SetName($"Varlen({c})");
        }
        // sliding windows around each sequence's own diagonal
        foreach (var c in new[]
        {
            new VarlenCase(SequenceDevice.Cpu, AttentionDtype.Fp32, cpuQ, cpuK, 4, 2, 40, Causal: true, BottomRight: true, WindowLeft: 6),
            new VarlenCase(SequenceDevice.Cpu, AttentionDtype.Bf16, cpuQ, cpuK, 4, 2, 40, Causal: false, BottomRight: false, WindowLeft: 3, WindowRight: 10),
            new VarlenCase(SequenceDevice.Emulator, AttentionDtype.Fp32, emuQ, emuK, 2, 1, 16, Causal: false, BottomRight: true, WindowLeft: 1, WindowRight: 2),
            // fp32 on the tensor cores (3×TF32): the same sequences through the tensor-core forward and backward
            new VarlenCase(SequenceDevice.Emulator, AttentionDtype.Fp32, emuQ, emuK, 2, 1, 24, Causal: true, BottomRight: true, Fp32Math: Fp32Math.TensorCores),
        })
            yield return new TestCaseData(c).SetName($"Varlen({c})");
    }

    [TestCaseSource(nameof(Cases))]
    public void ForwardAndBackwardMatchReference(VarlenCase c)
    {
        switch (c.Dtype)
        {
            case AttentionDtype.Fp16: Run<Half>(c); break;
            case AttentionDtype.Bf16: Run<BFloat16>(c); break;
            default: Run<float>(c); break;
        }
    }

    private static void Run<T>(VarlenCase c) where T : unmanaged
    {
        int[] cuQ = Cumulative(c.QueryLengths), cuK = Cumulative(c.KeyLengths);
        int totalQ = cuQ[^1], totalK = cuK[^1], maxQ = c.QueryLengths.Max(), maxK = c.KeyLengths.Max();
        var shape = new VarlenShape(c.QueryLengths.Length, totalQ, totalK, maxQ, maxK, c.HeadsQ, c.HeadsKV, c.HeadDim);
        var random = new Random(17 + c.HeadDim);
        float[] q = Random(random, (long)totalQ * c.HeadsQ * c.HeadDim, c.Dtype), k = Random(random, (long)totalK * c.HeadsKV * c.HeadDim, c.Dtype);
        float[] v = Random(random, k.Length, c.Dtype), dOutput = Random(random, q.Length, c.Dtype);
        var options = new AttentionOptions { Causal = c.Causal, CausalAlignment = c.BottomRight ? CausalAlignment.BottomRight : CausalAlignment.TopLeft,
            WindowLeft = c.WindowLeft, WindowRight = c.WindowRight, Fp32Math = c.Fp32Math };
        var settings = new AttentionSettings(options.ResolveScale(c.HeadDim), c.Causal, c.BottomRight, WindowLeft: c.WindowLeft, WindowRight: c.WindowRight);

        using var device = Create(c.Device);
        using var qt = Upload<T>(device, q, totalQ, c.HeadsQ, c.HeadDim);
        using var kt = Upload<T>(device, k, totalK, c.HeadsKV, c.HeadDim);
        using var vt = Upload<T>(device, v, totalK, c.HeadsKV, c.HeadDim);
        using var dOt = Upload<T>(device, dOutput, totalQ, c.HeadsQ, c.HeadDim);
        using var cuQt = DeviceTensor.Upload<int>(device, cuQ, cuQ.Length);
        using var cuKt = DeviceTensor.Upload<int>(device, cuK, cuK.Length);
        using var forward = FlashAttention.ForwardVarlen(qt, kt, vt, cuQt, cuKt, maxQ, maxK, options with { ReturnLse = true });
        using var gradients = FlashAttention.BackwardVarlen(dOt, qt, kt, vt, forward.Output, forward.Lse!, cuQt, cuKt, maxQ, maxK, options);

        var (o, lse) = (new double[q.Length], new double[(long)c.HeadsQ * totalQ]);
        var (dq, dk, dv) = (new double[q.Length], new double[k.Length], new double[v.Length]);
        SequenceReference.ForwardVarlen(shape, settings, cuQ, cuK, Widen(q), Widen(k), Widen(v), o, lse);
        SequenceReference.BackwardVarlen(shape, settings, cuQ, cuK, Widen(q), Widen(k), Widen(v), Widen(dOutput), dq, dk, dv);
        var naive = NaiveVarlen(shape, settings, x => Round(c.Dtype, x), cuQ, cuK, q, k, v, dOutput);

        Assert.Multiple(() =>
        {
            Assert.That(forward.Output.GetShape(), Is.EqualTo(new[] { totalQ, c.HeadsQ, c.HeadDim }));
            Assert.That(forward.Lse!.GetShape(), Is.EqualTo(new[] { c.HeadsQ, totalQ }));
            Check("O", Download(forward.Output), naive.O, o, gradient: false);
            Check("L", Download(forward.Lse!), naive.Lse, lse, gradient: false);
            Check("dQ", Download(gradients.DQ), naive.Dq, dq, gradient: true);
            Check("dK", Download(gradients.DK), naive.Dk, dk, gradient: true);
            Check("dV", Download(gradients.DV), naive.Dv, dv, gradient: true);
        });
        // the sequence without keys: output 0 and lse +∞ (exactly)
        int empty = Array.IndexOf(c.KeyLengths, 0);
        var lseValues = forward.Lse!.ToArray();
        for (int r = cuQ[empty]; r < cuQ[empty + 1]; r++)
            Assert.That(lseValues[r], Is.EqualTo(float.PositiveInfinity), $"lse of query {r} (sequence {empty}, no keys)");
    }
}
