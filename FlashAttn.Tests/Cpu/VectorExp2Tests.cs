using System.Runtime.Intrinsics;
using FlashAttn.Cpu.Simd;

namespace FlashAttn.Tests.Cpu;

/// <summary>The CPU path's vector 2ˣ and lane sum at every width the machine has: within 2 ulp of the fp64 value over the
/// softmax's range, exactly 0 below −127 and for −∞ (masked scores), NaN kept (a NaN score poisons its row), and the
/// lane sum against a plain loop.</summary>
public unsafe class VectorExp2Tests
{
    private static float[] Inputs()
    {
        var random = new Random(2026);
        var inputs = new List<float> { 0f, -0.5f, -1f, -126f, -126.99f, -127f, -127.2f, -127.5f, -128f, -1000f, float.NegativeInfinity, float.NaN, -float.MaxValue };
        for (int i = 0; i < 1000; i++) inputs.Add(-(float)(random.NextDouble() * 126.0));
        while (inputs.Count % 16 != 0) inputs.Add(-(float)random.NextDouble());
        return [.. inputs];
    }

    private static void CheckExp2<TOps, TVector>() where TOps : struct, ISimd<TVector> where TVector : struct
    {
        float[] inputs = Inputs(), outputs = new float[inputs.Length];
        fixed (float* x = inputs, y = outputs)
            for (int i = 0; i < inputs.Length; i += TOps.Count)
                TOps.Store(y + i, VectorExp2.Exp2<TOps, TVector>(TOps.Load(x + i)));
        Assert.Multiple(() =>
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                float x = inputs[i], y = outputs[i];
                if (float.IsNaN(x)) Assert.That(y, Is.NaN, "NaN in, NaN out");
                else if (x < -127f) Assert.That(y, Is.EqualTo(0f), $"2^{x} underflows to 0");
                else if (x <= -126.5f) Assert.That(y, Is.EqualTo(0f).Or.EqualTo(MathF.Pow(2f, x)).Within(1e-38f), $"2^{x} (denormal range)");
                else
                {
                    double exact = Math.Pow(2.0, x), ulp = MathF.BitIncrement((float)exact) - (float)exact;
                    Assert.That(Math.Abs(y - exact), Is.LessThanOrEqualTo(2 * ulp), $"2^{x}");
                }
            }
        });
    }

    private static void CheckSum<TOps, TVector>() where TOps : struct, ISimd<TVector> where TVector : struct
    {
        var random = new Random(TOps.Count);
        var lanes = new float[TOps.Count];
        for (int trial = 0; trial < 50; trial++)
        {
            for (int i = 0; i < lanes.Length; i++) lanes[i] = (float)(random.NextDouble() * 200 - 100);
            fixed (float* x = lanes)
            {
                var v = TOps.Load(x);
                Assert.That(TOps.SumAcross(v), Is.EqualTo(lanes.Sum(l => (double)l)).Within(1e-4));
            }
        }
    }

    [Test]
    public void Exp2MatchesTheExactValueAtEveryWidth()
    {
        CheckExp2<Simd128, Vector128<float>>();
        if (Vector256.IsHardwareAccelerated) CheckExp2<Simd256, Vector256<float>>();
        if (Vector512.IsHardwareAccelerated) CheckExp2<Simd512, Vector512<float>>();
    }

    [Test]
    public void SumAcrossMatchesALoopAtEveryWidth()
    {
        CheckSum<Simd128, Vector128<float>>();
        if (Vector256.IsHardwareAccelerated) CheckSum<Simd256, Vector256<float>>();
        if (Vector512.IsHardwareAccelerated) CheckSum<Simd512, Vector512<float>>();
    }
}
