using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cpu;
using FlashAttn.Kernels;

using FlashAttn.Tests.Support;

namespace FlashAttn.Tests.Kernels;

/// <summary>
/// The three register-blocked products at every way of rolling their outer loop (unrolled whole, 1, 2, 4 and 8 steps
/// per iteration, and 3, which divides no count and must fall back to unrolling), on the CPU accelerator (managed code)
/// and through the IR interpreter (the compiler's unrolled IR), against plain loops in double.
/// </summary>
[NonParallelizable]
public sealed class RegisterTileMathTests
{
    // A: 8 × 32, B: 8 × 32 (for A Bᵀ) and 32 × 32 (for A B and Aᵀ B, with Aᵀ 32 × 8); four threads
    private const int Rows = 8, Depth = 32, Threads = 4;
    private const int AbtOutputs = 2 * 8, AbOutputs = 2 * 2 * 4, AtbOutputs = 8 * 2 * 4;

    /// <summary>Thread t: rows t and t + 4 against all 8 B rows; rows t, t + 4 times column chunks t, t + 4; all 8 Aᵀ rows times chunks t, t + 4.</summary>
    public static void Products(ArrayView<float> a, ArrayView<float> bRows, ArrayView<float> b, ArrayView<float> at,
        ArrayView<float> abt, ArrayView<float> ab, ArrayView<float> atb, SpecializedValue<int> stepsPerIteration)
    {
        int t = Group.IdxX, steps = stepsPerIteration.Value;
        var c1 = LocalMemory.Allocate<float>(AbtOutputs);
        var c2 = LocalMemory.Allocate<float>(AbOutputs);
        var c3 = LocalMemory.Allocate<float>(AtbOutputs);
        TileMath.Fill(c1, AbtOutputs, 0f);
        TileMath.Fill(c2, AbOutputs, 0f);
        TileMath.Fill(c3, AtbOutputs, 0f);
        RegisterTileMath.MultiplyABt(a.Cast<Float4>(), Depth / 4, t, Threads, 2, bRows.Cast<Float4>(), Depth / 4, 0, 1, 8, Depth / 4, c1, steps);
        RegisterTileMath.MultiplyAB(a.Cast<Float4>(), Depth / 4, t, Threads, 2, b.Cast<Float4>(), Depth / 4, t, Threads, 2, Depth, c2, steps);
        RegisterTileMath.MultiplyAtB(at.Cast<Float4>(), Rows / 4, 0, 2, b.Cast<Float4>(), Depth / 4, t, Threads, 2, Depth, c3, steps);
        for (int e = 0; e < AbtOutputs; e++) abt[t * AbtOutputs + e] = c1[e];
        for (int e = 0; e < AbOutputs; e++) ab[t * AbOutputs + e] = c2[e];
        for (int e = 0; e < AtbOutputs; e++) atb[t * AtbOutputs + e] = c3[e];
    }

    private static readonly int[] s_steps = [RegisterTileMath.Unrolled, 1, 2, 3, 4, 8];

    [Test]
    public void EveryRollingGivesTheSameProducts([ValueSource(nameof(s_steps))] int steps, [Values] bool interpreted)
    {
        var random = new Random(7 + steps);
        float[] a = Random(random, Rows * Depth), bRows = Random(random, Rows * Depth), b = Random(random, Depth * Depth);
        float[] at = new float[Depth * Rows];
        for (int i = 0; i < Rows; i++)
            for (int k = 0; k < Depth; k++) at[k * Rows + i] = a[i * Depth + k];

        using var cpu = new CpuAccelerator();
        using var aBuffer = Upload(cpu, a);
        using var bRowsBuffer = Upload(cpu, bRows);
        using var bBuffer = Upload(cpu, b);
        using var atBuffer = Upload(cpu, at);
        using var abt = cpu.Allocate<float>(Threads * AbtOutputs);
        using var ab = cpu.Allocate<float>(Threads * AbOutputs);
        using var atb = cpu.Allocate<float>(Threads * AtbOutputs);
        object[] args = [aBuffer.View, bRowsBuffer.View, bBuffer.View, atBuffer.View, abt.View, ab.View, atb.View, SpecializedValue.New(steps)];
        var kernel = typeof(RegisterTileMathTests).GetMethod(nameof(Products))!;
        var config = new LaunchConfig(1, Threads);
        KernelOnCpu.Run(cpu, kernel, config, args, interpreted);

        float[] abtOut = abt.ToArray(), abOut = ab.ToArray(), atbOut = atb.ToArray();
        for (int t = 0; t < Threads; t++)
        {
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 8; j++)
                    Expect(abtOut[t * AbtOutputs + i * 8 + j], Dot(k => a[(t + Threads * i) * Depth + k] * (double)bRows[j * Depth + k]), "A Bᵀ", t, i, j);
            for (int i = 0; i < 2; i++)
                for (int o = 0; o < 2; o++)
                    for (int e = 0; e < 4; e++)
                    {
                        int column = 4 * (t + Threads * o) + e, row = t + Threads * i;
                        Expect(abOut[t * AbOutputs + (i * 2 + o) * 4 + e], Dot(k => a[row * Depth + k] * (double)b[k * Depth + column]), "A B", t, i, column);
                    }
            for (int i = 0; i < Rows; i++)
                for (int o = 0; o < 2; o++)
                    for (int e = 0; e < 4; e++)
                    {
                        int column = 4 * (t + Threads * o) + e;
                        Expect(atbOut[t * AtbOutputs + (i * 2 + o) * 4 + e], Dot(k => at[k * Rows + i] * (double)b[k * Depth + column]), "Aᵀ B", t, i, column);
                    }
        }
    }

    private static float[] Random(Random random, int count)
        => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    private static MemoryBuffer<float> Upload(Accelerator accelerator, float[] host)
    {
        var buffer = accelerator.Allocate<float>(host.Length);
        buffer.CopyFromHost(host);
        return buffer;
    }

    private static double Dot(Func<int, double> term) => Enumerable.Range(0, Depth).Sum(term);

    private static void Expect(float actual, double expected, string product, int thread, int row, int column)
        => Assert.That(actual, Is.EqualTo(expected).Within(1e-4), $"{product}: thread {thread}, row {row}, column {column}");
}
