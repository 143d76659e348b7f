using System.Diagnostics;
using FlashAttn.Compute;
using FlashAttn.Diagnostics;

namespace FlashAttn.Job;

/// <summary>
/// The main job: attention at a realistic size on one device, timed after a warm-up, with a sample of query rows
/// checked against fp64 on the host.
/// </summary>
internal sealed class AttentionJob(JobOptions options, TextWriter log)
{
    /// <summary>One run's settings after defaults are applied.</summary>
    public sealed record RunSpec(int Batch, int SeqLen, int Heads, int HeadDim, DType DType, bool Causal, int Iterations, int Samples);

    /// <summary>The runs the options ask for on a device of <paramref name="kind"/>.</summary>
    public static IReadOnlyList<RunSpec> Plan(JobOptions options, DeviceKind kind)
    {
        bool cuda = kind == DeviceKind.Cuda, emulator = kind == DeviceKind.CpuEmulator;
        DType[] dtypes = options.DType is { } d ? [d] : cuda ? [DType.Float16, DType.Float32] : [DType.Float32];
        bool[] causals = options.Causal is { } c ? [c] : [false, true];
        var runs = new List<RunSpec>();
        foreach (var dtype in dtypes)
        foreach (var causal in causals)
            runs.Add(new RunSpec(
                options.Batch ?? (cuda ? 4 : 1), options.SeqLen ?? (cuda ? 4096 : emulator ? 512 : 2048),
                options.Heads ?? (cuda ? 16 : emulator ? 4 : 8), options.HeadDim ?? (cuda ? 128 : 64),
                dtype, causal, options.Iterations ?? (cuda ? 10 : emulator ? 1 : 3), options.Samples));
        return runs;
    }

    /// <summary>Runs every planned run; returns 0 when all pass, 1 when any fails.</summary>
    public int Run()
    {
        using var device = options.Device switch
        {
            DeviceKind.Cpu => Device.Cpu(),
            DeviceKind.Cuda => Device.Cuda(),
            DeviceKind.CpuEmulator => Device.CpuEmulator(),
            _ => Device.CreateDefault(),
        };
        log.WriteLine($"FlashAttn main job on {device} ({device.Kind})");
        bool allPass = true;
        foreach (var spec in Plan(options, device.Kind))
        {
            allPass &= spec.DType switch
            {
                DType.Float32 => RunOne<float>(device, spec),
                DType.Float16 => RunOne<Half>(device, spec),
                _ => RunOne<BFloat16>(device, spec),
            };
        }
        log.WriteLine(allPass ? "ALL PASS" : "FAIL");
        return allPass ? 0 : 1;
    }

    /// <summary>Maximum tolerated |Δ| of an output element of the sampled rows.</summary>
    public static double OutputTolerance(DType dtype) => dtype switch { DType.Float32 => 2e-3, DType.Float16 => 1e-2, _ => 4e-2 };

    private bool RunOne<T>(Device device, RunSpec spec) where T : unmanaged
    {
        int b = spec.Batch, s = spec.SeqLen, h = spec.Heads, d = spec.HeadDim;
        long elements = (long)b * s * h * d;
        log.WriteLine();
        log.WriteLine($"shape   q, k, v (b, s, h, d) = ({b}, {s}, {h}, {d})   dtype {spec.DType}   {(spec.Causal ? "causal" : "non-causal")}");

        var qHost = RandomValues<T>(elements, 1);
        var kHost = RandomValues<T>(elements, 2);
        var vHost = RandomValues<T>(elements, 3);
        device.ResetPeakAllocatedBytes();
        long baseline = device.AllocatedBytes;
        int[] shape = [b, s, h, d];
        using var q = DeviceTensor.Upload<T>(device, qHost, shape);
        using var k = DeviceTensor.Upload<T>(device, kHost, shape);
        using var v = DeviceTensor.Upload<T>(device, vHost, shape);
        var runOptions = new AttentionOptions { Causal = spec.Causal };

        // Warm-up on a short sequence: kernels are compiled (CUDA) or JIT-ed (CPU, emulator) per head_dim, dtype and
        // mask, not per length, so this costs little even on the CPU.
        var warm = Stopwatch.StartNew();
        int warmLength = Math.Min(s, 64);
        using (var wq = DeviceTensor.Empty<T>(device, b, warmLength, h, d))
        {
            wq.CopyFrom(qHost.AsSpan(0, (int)wq.Length));
            FlashAttention.Forward(wq, wq, wq, runOptions).Dispose();
            device.Synchronize();
        }
        warm.Stop();

        // Timed runs; the last one also returns the log-sum-exp (the kernels compute it either way) for the check.
        var times = new double[spec.Iterations];
        AttentionResult? checkedRun = null;
        for (int i = 0; i < times.Length; i++)
        {
            checkedRun?.Dispose();
            var timer = Stopwatch.StartNew();
            checkedRun = FlashAttention.Forward(q, k, v, runOptions with { ReturnLse = i == times.Length - 1 });
            device.Synchronize();
            times[i] = timer.Elapsed.TotalMilliseconds;
        }
        using var result = checkedRun!;
        Array.Sort(times);
        double ms = times[times.Length / 2];
        double flops = 4.0 * b * s * s * h * d * (spec.Causal ? 0.5 : 1.0);

        long peak = device.PeakAllocatedBytes - baseline;
        long naive = (long)b * h * s * s * DTypes.SizeOf(spec.DType);
        log.WriteLine($"time    {ms:F3} ms (median of {times.Length} after a {warm.Elapsed.TotalMilliseconds:F0} ms warm-up at s={warmLength})   {flops / (ms * 1e-3) / 1e12:G4} TFLOP/s");
        log.WriteLine($"memory  peak {Bytes(peak)} on the device (q, k, v, output, lse)   vs {Bytes(naive)} for naive attention's N×N scores alone");

        var output = ((DeviceTensor<T>)result.Output).ToArray();
        var lse = result.Lse!.ToArray();
        var rows = SampledReference.PickRows(b, h, s, spec.Samples);
        double scale = runOptions.ResolveScale(d), maxOut = 0, maxLse = 0;
        foreach (var row in rows)
        {
            var (expected, expectedLse) = SampledReference.Row((b, s, s, h, h, d),
                i => DTypes.ToDouble(qHost[i]), i => DTypes.ToDouble(kHost[i]), i => DTypes.ToDouble(vHost[i]),
                row, scale, spec.Causal, bottomRight: true);
            long outBase = (((long)row.Batch * s + row.Row) * h + row.Head) * d;
            for (int c = 0; c < d; c++)
                maxOut = Math.Max(maxOut, Math.Abs(DTypes.ToDouble(output[outBase + c]) - expected[c]));
            double actualLse = lse[((long)row.Batch * h + row.Head) * s + row.Row];
            maxLse = Math.Max(maxLse, Math.Abs(actualLse - expectedLse) / Math.Max(1, Math.Abs(expectedLse)));
        }
        double tolerance = OutputTolerance(spec.DType);
        bool pass = maxOut <= tolerance && maxLse <= 1e-4;
        log.WriteLine($"check   {rows.Count} sampled rows vs fp64: max |Δoutput| {maxOut:E2} (tolerance {tolerance:E0}), " +
            $"max relative |Δlse| {maxLse:E2} (tolerance 1E-004)   {(pass ? "PASS" : "FAIL")}");
        return pass;
    }

    private static T[] RandomValues<T>(long count, int seed) where T : unmanaged
    {
        var random = new Random(seed);
        var values = new T[count];
        for (long i = 0; i < count; i++) values[i] = DTypes.FromDouble<T>(random.NextSingle() * 2 - 1);
        return values;
    }

    private static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F1} MiB",
        _ => $"{bytes / 1024.0:F1} KiB",
    };
}
