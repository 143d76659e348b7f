using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using FlashAttn.Cpu.Simd;

namespace FlashAttn.Bench.Cpu;

/// <summary>
/// The machine's measured fp32 FMA peak: every worker runs <see cref="Chains"/> independent FMA chains on the CPU
/// path's vector width (enough to cover FMA latency × pipes on current x86 and Arm cores) for a fixed time, all
/// workers at once; the best of <see cref="Trials"/> such runs (on a shared machine the others measure the neighbours).
/// 2 FLOPs per lane per FMA.
/// </summary>
internal static class FmaPeak
{
    /// <summary>Independent accumulators per worker.</summary>
    private const int Chains = 12;

    /// <summary>Timed runs; the fastest counts.</summary>
    private const int Trials = 5;

    /// <summary>FMAs per chain per timed batch.</summary>
    private const int Steps = 1 << 16;

    /// <summary>GFLOP/s of <paramref name="threads"/> workers on <paramref name="vectorBits"/>-bit vectors, each trial <paramref name="seconds"/> long.</summary>
    public static double Measure(int threads, int vectorBits, double seconds = 0.2)
        => Enumerable.Range(0, Trials).Max(_ => MeasureOnce(threads, vectorBits, seconds));

    private static double MeasureOnce(int threads, int vectorBits, double seconds) => vectorBits switch
    {
        512 => Measure<Simd512, Vector512<float>>(threads, seconds),
        256 => Measure<Simd256, Vector256<float>>(threads, seconds),
        _ => Measure<Simd128, Vector128<float>>(threads, seconds),
    };

    private static double Measure<TOps, TVector>(int threads, double seconds) where TOps : struct, ISimd<TVector> where TVector : struct
    {
        Chain<TOps, TVector>(1); // JIT and warm the units up
        var batches = new long[threads];
        var watch = Stopwatch.StartNew();
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, worker =>
        {
            float sink = 0;
            while (watch.Elapsed.TotalSeconds < seconds)
            {
                sink += Chain<TOps, TVector>(1);
                batches[worker]++;
            }
            GC.KeepAlive(sink);
        });
        double elapsed = watch.Elapsed.TotalSeconds;
        return batches.Sum() * (double)Steps * Chains * TOps.Count * 2 / elapsed / 1e9;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chain<TOps, TVector>(float seed) where TOps : struct, ISimd<TVector> where TVector : struct
    {
        var a = TOps.Broadcast(0.999f);
        var b = TOps.Broadcast(seed * 1e-3f);
        TVector c0 = TOps.Broadcast(seed), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int i = 0; i < Steps; i++)
        {
            c0 = TOps.MultiplyAdd(c0, a, b); c1 = TOps.MultiplyAdd(c1, a, b); c2 = TOps.MultiplyAdd(c2, a, b);
            c3 = TOps.MultiplyAdd(c3, a, b); c4 = TOps.MultiplyAdd(c4, a, b); c5 = TOps.MultiplyAdd(c5, a, b);
            c6 = TOps.MultiplyAdd(c6, a, b); c7 = TOps.MultiplyAdd(c7, a, b); c8 = TOps.MultiplyAdd(c8, a, b);
            c9 = TOps.MultiplyAdd(c9, a, b); c10 = TOps.MultiplyAdd(c10, a, b); c11 = TOps.MultiplyAdd(c11, a, b);
        }
        var sum = TOps.Add(TOps.Add(TOps.Add(c0, c1), TOps.Add(c2, c3)), TOps.Add(TOps.Add(c4, c5), TOps.Add(c6, c7)));
        return TOps.SumAcross(TOps.Add(sum, TOps.Add(TOps.Add(c8, c9), TOps.Add(c10, c11))));
    }
}
