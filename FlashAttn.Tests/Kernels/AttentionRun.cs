using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Dispatch;
using FlashAttn.Kernels;
using FlashAttn.Kernels.Reference;
using static FlashAttn.Tests.Support.DeviceBuffers;

namespace FlashAttn.Tests.Kernels;

/// <summary>Results of one attention case, widened to double: outputs and (optionally) gradients.</summary>
public sealed class AttentionResult
{
    /// <summary>(b, s_q, h_q, d), or (b, h_q, s_q, d) in the case's layout.</summary>
    public double[] Output = [];
    /// <summary>(b, h_q, s_q).</summary>
    public double[] Lse = [];
    /// <summary>Like q.</summary>
    public double[] Dq = [];
    /// <summary>Like k.</summary>
    public double[] Dk = [];
    /// <summary>Like v.</summary>
    public double[] Dv = [];
}

/// <summary>
/// Runs a case on an accelerator (through <see cref="AttentionLauncher"/>, or other <see cref="IAttentionKernels"/> such as
/// the CPU path), in fp64 and naively in its dtype.
/// </summary>
public sealed class AttentionRun
{
    /// <summary>Inputs as the dtype's values widened to float.</summary>
    public float[] Q, K, V, DOutput;

    /// <summary>The case.</summary>
    public AttentionCase Case { get; }

    /// <summary>Random inputs (uniform in ±1.5, never zero), rounded to the case's dtype.</summary>
    public AttentionRun(AttentionCase c)
    {
        Case = c;
        var s = c.Shape;
        var random = new Random(c.Seed);
        Q = Random(random, (long)s.Batch * s.SeqLenQ * s.HeadsQ * s.HeadDim);
        K = Random(random, (long)s.Batch * s.SeqLenK * s.HeadsKV * s.HeadDim);
        V = Random(random, (long)s.Batch * s.SeqLenK * s.HeadsKV * s.HeadDim);
        DOutput = Random(random, Q.LongLength);
    }

    /// <summary>Standard normal inputs (torch.randn's distribution, as the PyTorch oracle draws them), rounded to the case's dtype.</summary>
    public static AttentionRun Normal(AttentionCase c)
    {
        var run = new AttentionRun(c);
        var random = new Random(c.Seed);
        foreach (var values in new[] { run.Q, run.K, run.V, run.DOutput })
            for (long i = 0; i < values.LongLength; i++)
            {
                // Box–Muller; 1 − u keeps the logarithm's argument in (0, 1]
                double u = 1 - random.NextDouble(), angle = 2 * Math.PI * random.NextDouble();
                values[i] = run.Round((float)(Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(angle)));
            }
        return run;
    }

    /// <summary>Rounds a float to the case's dtype.</summary>
    public float Round(float x) => Case.Dtype switch
    {
        AttentionDtype.Fp16 => (float)(Half)x,
        AttentionDtype.Bf16 => (BFloat16)x,
        _ => x,
    };

    private float[] Random(Random random, long n)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++)
        {
            float x = (float)(random.NextDouble() * 3 - 1.5);
            a[i] = Round(MathF.Abs(x) < 1e-3f ? 0.25f : x);
        }
        return a;
    }

    /// <summary>The fp64 reference.</summary>
    public AttentionResult Reference(bool backward)
    {
        var s = Case.Shape;
        var r = new AttentionResult
        {
            Output = new double[Q.Length],
            Lse = new double[(long)s.Batch * s.HeadsQ * s.SeqLenQ],
        };
        double[] q = Widen(Q), k = Widen(K), v = Widen(V);
        AttentionReference.Forward(s, Case.Settings, q, k, v, r.Output, r.Lse);
        if (backward)
        {
            r.Dq = new double[Q.Length];
            r.Dk = new double[K.Length];
            r.Dv = new double[V.Length];
            AttentionReference.Backward(s, Case.Settings, q, k, v, Widen(DOutput), r.Dq, r.Dk, r.Dv);
        }
        return r;
    }

    /// <summary>The naive same-dtype computation (the error budget).</summary>
    public AttentionResult Naive(bool backward)
    {
        var s = Case.Shape;
        var output = new float[Q.Length];
        var lse = new float[(long)s.Batch * s.HeadsQ * s.SeqLenQ];
        float[]? dq = backward ? new float[Q.Length] : null, dk = backward ? new float[K.Length] : null, dv = backward ? new float[V.Length] : null;
        NaiveAttention.Run(s, Case.Settings, Round, Q, K, V, backward ? DOutput : null, output, lse, dq, dk, dv);
        return new AttentionResult
        {
            Output = Widen(output), Lse = Widen(lse),
            Dq = dq is null ? [] : Widen(dq), Dk = dk is null ? [] : Widen(dk), Dv = dv is null ? [] : Widen(dv),
        };
    }

    /// <summary>The GPU kernels through <see cref="AttentionLauncher"/>, or <paramref name="kernels"/> when given.</summary>
    internal AttentionResult Kernels(Accelerator accelerator, bool backward, IAttentionKernels? kernels = null) => Case.Dtype switch
    {
        AttentionDtype.Fp16 => Kernels<Half>(accelerator, backward, x => (Half)x, x => (float)x, kernels ?? LauncherAttentionKernels.Instance),
        AttentionDtype.Bf16 => Kernels<BFloat16>(accelerator, backward, x => (BFloat16)x, x => x, kernels ?? LauncherAttentionKernels.Instance),
        _ => Kernels<float>(accelerator, backward, x => x, x => x, kernels ?? LauncherAttentionKernels.Instance),
    };

    /// <summary>The case as the dispatcher's problem description.</summary>
    internal AttentionProblem Problem
    {
        get
        {
            var s = Case.Shape;
            var settings = Case.Settings;
            return new AttentionProblem(s.Batch, s.SeqLenQ, s.SeqLenK, s.HeadsQ, s.HeadsKV, s.HeadDim,
                settings.Scale, settings.Causal, settings.CausalBottomRight, settings.Deterministic, settings.WindowLeft, settings.WindowRight,
                Fp32Math: settings.Fp32Math, Layout: s.Layout);
        }
    }

    private AttentionResult Kernels<T>(Accelerator accelerator, bool backward, Func<float, T> narrow, Func<T, float> widen,
        IAttentionKernels kernels) where T : unmanaged
    {
        var s = Case.Shape;
        using var q = Upload(accelerator, Q, narrow);
        using var k = Upload(accelerator, K, narrow);
        using var v = Upload(accelerator, V, narrow);
        using var output = accelerator.Allocate<T>(Q.Length);
        using var lse = accelerator.Allocate<float>((long)s.Batch * s.HeadsQ * s.SeqLenQ);
        kernels.Forward(accelerator, Problem, q.View, k.View, v.View, output.View, lse.View);
        var r = new AttentionResult { Output = Download(output, widen), Lse = Download(lse, x => x) };
        if (!backward) return r;
        using var dOutput = Upload(accelerator, DOutput, narrow);
        using var dq = accelerator.Allocate<T>(Q.Length);
        using var dk = accelerator.Allocate<T>(K.Length);
        using var dv = accelerator.Allocate<T>(V.Length);
        kernels.Backward(accelerator, Problem, q.View, k.View, v.View, output.View, dOutput.View, lse.View, dq.View, dk.View, dv.View);
        r.Dq = Download(dq, widen);
        r.Dk = Download(dk, widen);
        r.Dv = Download(dv, widen);
        return r;
    }

    /// <summary>Bitwise images of dq, dk, dv after one more backward (for the determinism test).</summary>
    internal T[][] BackwardBits<T>(Accelerator accelerator, int runs, Func<float, T> narrow, IAttentionKernels? kernels = null) where T : unmanaged
    {
        kernels ??= LauncherAttentionKernels.Instance;
        var s = Case.Shape;
        using var q = Upload(accelerator, Q, narrow);
        using var k = Upload(accelerator, K, narrow);
        using var v = Upload(accelerator, V, narrow);
        using var dOutput = Upload(accelerator, DOutput, narrow);
        using var output = accelerator.Allocate<T>(Q.Length);
        using var lse = accelerator.Allocate<float>((long)s.Batch * s.HeadsQ * s.SeqLenQ);
        using var dq = accelerator.Allocate<T>(Q.Length);
        using var dk = accelerator.Allocate<T>(K.Length);
        using var dv = accelerator.Allocate<T>(V.Length);
        kernels.Forward(accelerator, Problem, q.View, k.View, v.View, output.View, lse.View);
        var images = new T[runs][];
        for (int run = 0; run < runs; run++)
        {
            kernels.Backward(accelerator, Problem, q.View, k.View, v.View, output.View, dOutput.View, lse.View, dq.View, dk.View, dv.View);
            images[run] = [.. dq.ToArray(), .. dk.ToArray(), .. dv.ToArray()];
        }
        return images;
    }

    /// <summary>max |a − b| (equal infinities count as 0; one infinite and one finite as +∞).</summary>
    public static double MaxError(double[] a, double[] b)
    {
        Assert.That(a, Has.Length.EqualTo(b.Length));
        double max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] == b[i]) continue;
            double e = Math.Abs(a[i] - b[i]);
            if (double.IsNaN(e)) return double.PositiveInfinity;
            max = Math.Max(max, e);
        }
        return max;
    }
}
