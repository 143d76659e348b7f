namespace FlashAttn.Compute;

/// <summary>Math functions for kernels, each one PTX instruction or a short sequence; on the CPU, .NET's own.</summary>
public static class XMath
{
    /// <summary>log2(e): exp(x) = exp2(x·Log2E).</summary>
    public const float Log2E = 1.4426950408889634f;
    /// <summary>ln(2): log(x) = log2(x)·Ln2.</summary>
    public const float Ln2 = 0.6931471805599453f;

    /// <summary>e^x.</summary>
    [Intrinsic(IntrinsicOp.Exp)]
    public static float Exp(float x) => MathF.Exp(x);
    /// <summary>e^x.</summary>
    [Intrinsic(IntrinsicOp.Exp)]
    public static double Exp(double x) => Math.Exp(x);
    /// <summary>2^x.</summary>
    [Intrinsic(IntrinsicOp.Exp2)]
    public static float Exp2(float x) => MathF.Pow(2f, x);
    /// <summary>2^x.</summary>
    [Intrinsic(IntrinsicOp.Exp2)]
    public static double Exp2(double x) => Math.Pow(2d, x);
    /// <summary>Natural logarithm.</summary>
    [Intrinsic(IntrinsicOp.Log)]
    public static float Log(float x) => MathF.Log(x);
    /// <summary>Natural logarithm.</summary>
    [Intrinsic(IntrinsicOp.Log)]
    public static double Log(double x) => Math.Log(x);
    /// <summary>Base-2 logarithm.</summary>
    [Intrinsic(IntrinsicOp.Log2)]
    public static float Log2(float x) => MathF.Log2(x);
    /// <summary>Base-2 logarithm.</summary>
    [Intrinsic(IntrinsicOp.Log2)]
    public static double Log2(double x) => Math.Log2(x);
    /// <summary>Square root.</summary>
    [Intrinsic(IntrinsicOp.Sqrt)]
    public static float Sqrt(float x) => MathF.Sqrt(x);
    /// <summary>Square root.</summary>
    [Intrinsic(IntrinsicOp.Sqrt)]
    public static double Sqrt(double x) => Math.Sqrt(x);
    /// <summary>1/√x.</summary>
    [Intrinsic(IntrinsicOp.Rsqrt)]
    public static float Rsqrt(float x) => 1f / MathF.Sqrt(x);
    /// <summary>1/√x.</summary>
    [Intrinsic(IntrinsicOp.Rsqrt)]
    public static double Rsqrt(double x) => 1d / Math.Sqrt(x);
    /// <summary>Hyperbolic tangent.</summary>
    [Intrinsic(IntrinsicOp.Tanh)]
    public static float Tanh(float x) => MathF.Tanh(x);
    /// <summary>Hyperbolic tangent.</summary>
    [Intrinsic(IntrinsicOp.Tanh)]
    public static double Tanh(double x) => Math.Tanh(x);
    /// <summary>Sine.</summary>
    [Intrinsic(IntrinsicOp.Sin)]
    public static float Sin(float x) => MathF.Sin(x);
    /// <summary>Sine.</summary>
    [Intrinsic(IntrinsicOp.Sin)]
    public static double Sin(double x) => Math.Sin(x);
    /// <summary>Cosine.</summary>
    [Intrinsic(IntrinsicOp.Cos)]
    public static float Cos(float x) => MathF.Cos(x);
    /// <summary>Cosine.</summary>
    [Intrinsic(IntrinsicOp.Cos)]
    public static double Cos(double x) => Math.Cos(x);
    /// <summary>Absolute value.</summary>
    [Intrinsic(IntrinsicOp.Abs)]
    public static float Abs(float x) => MathF.Abs(x);
    /// <summary>Absolute value.</summary>
    [Intrinsic(IntrinsicOp.Abs)]
    public static double Abs(double x) => Math.Abs(x);
    /// <summary>Largest integer ≤ x.</summary>
    [Intrinsic(IntrinsicOp.Floor)]
    public static float Floor(float x) => MathF.Floor(x);
    /// <summary>Largest integer ≤ x.</summary>
    [Intrinsic(IntrinsicOp.Floor)]
    public static double Floor(double x) => Math.Floor(x);
    /// <summary>Smallest integer ≥ x.</summary>
    [Intrinsic(IntrinsicOp.Ceiling)]
    public static float Ceiling(float x) => MathF.Ceiling(x);
    /// <summary>Smallest integer ≥ x.</summary>
    [Intrinsic(IntrinsicOp.Ceiling)]
    public static double Ceiling(double x) => Math.Ceiling(x);
    /// <summary>Nearest integer, ties to even.</summary>
    [Intrinsic(IntrinsicOp.Round)]
    public static float Round(float x) => MathF.Round(x);
    /// <summary>Nearest integer, ties to even.</summary>
    [Intrinsic(IntrinsicOp.Round)]
    public static double Round(double x) => Math.Round(x);
    /// <summary>Integer part.</summary>
    [Intrinsic(IntrinsicOp.Truncate)]
    public static float Truncate(float x) => MathF.Truncate(x);
    /// <summary>Integer part.</summary>
    [Intrinsic(IntrinsicOp.Truncate)]
    public static double Truncate(double x) => Math.Truncate(x);
    /// <summary>e^x, approximate (ex2.approx of x·log2 e).</summary>
    [Intrinsic(IntrinsicOp.FastExp)]
    public static float FastExp(float x) => MathF.Exp(x);
    /// <summary>2^x, approximate (ex2.approx.ftz).</summary>
    [Intrinsic(IntrinsicOp.FastExp2)]
    public static float FastExp2(float x) => MathF.Pow(2f, x);
    /// <summary>Natural log, approximate (lg2.approx·ln 2).</summary>
    [Intrinsic(IntrinsicOp.FastLog)]
    public static float FastLog(float x) => MathF.Log(x);
    /// <summary>log2, approximate (lg2.approx.ftz).</summary>
    [Intrinsic(IntrinsicOp.FastLog2)]
    public static float FastLog2(float x) => MathF.Log2(x);
    /// <summary>1/√x, approximate (rsqrt.approx.ftz).</summary>
    [Intrinsic(IntrinsicOp.FastRsqrt)]
    public static float FastRsqrt(float x) => 1f / MathF.Sqrt(x);
    /// <summary>tanh, approximate (tanh.approx).</summary>
    [Intrinsic(IntrinsicOp.FastTanh)]
    public static float FastTanh(float x) => MathF.Tanh(x);
    /// <summary>1/x, approximate (rcp.approx.ftz).</summary>
    [Intrinsic(IntrinsicOp.FastReciprocal)]
    public static float FastReciprocal(float x) => 1f / x;
    /// <summary>x/y, approximate (div.approx.ftz).</summary>
    [Intrinsic(IntrinsicOp.FastDivide)]
    public static float FastDivide(float x, float y) => x / y;
    /// <summary>x^y.</summary>
    [Intrinsic(IntrinsicOp.Pow)]
    public static float Pow(float x, float y) => MathF.Pow(x, y);
    /// <summary>x^y.</summary>
    [Intrinsic(IntrinsicOp.Pow)]
    public static double Pow(double x, double y) => Math.Pow(x, y);
    /// <summary>Smaller of two values (for floats: NaN if either is NaN, as PTX min.NaN is not used: see docs).</summary>
    [Intrinsic(IntrinsicOp.Min)]
    public static float Min(float x, float y) => MathF.Min(x, y);
    /// <summary>Larger of two values.</summary>
    [Intrinsic(IntrinsicOp.Max)]
    public static float Max(float x, float y) => MathF.Max(x, y);
    /// <summary>Smaller of two values (for floats: NaN if either is NaN, as PTX min.NaN is not used: see docs).</summary>
    [Intrinsic(IntrinsicOp.Min)]
    public static double Min(double x, double y) => Math.Min(x, y);
    /// <summary>Larger of two values.</summary>
    [Intrinsic(IntrinsicOp.Max)]
    public static double Max(double x, double y) => Math.Max(x, y);
    /// <summary>Smaller of two values (for floats: NaN if either is NaN, as PTX min.NaN is not used: see docs).</summary>
    [Intrinsic(IntrinsicOp.Min)]
    public static int Min(int x, int y) => Math.Min(x, y);
    /// <summary>Larger of two values.</summary>
    [Intrinsic(IntrinsicOp.Max)]
    public static int Max(int x, int y) => Math.Max(x, y);
    /// <summary>Smaller of two values (for floats: NaN if either is NaN, as PTX min.NaN is not used: see docs).</summary>
    [Intrinsic(IntrinsicOp.Min)]
    public static uint Min(uint x, uint y) => Math.Min(x, y);
    /// <summary>Larger of two values.</summary>
    [Intrinsic(IntrinsicOp.Max)]
    public static uint Max(uint x, uint y) => Math.Max(x, y);
    /// <summary>Smaller of two values (for floats: NaN if either is NaN, as PTX min.NaN is not used: see docs).</summary>
    [Intrinsic(IntrinsicOp.Min)]
    public static long Min(long x, long y) => Math.Min(x, y);
    /// <summary>Larger of two values.</summary>
    [Intrinsic(IntrinsicOp.Max)]
    public static long Max(long x, long y) => Math.Max(x, y);
    /// <summary>Absolute value.</summary>
    [Intrinsic(IntrinsicOp.Abs)]
    public static int Abs(int x) => x < 0 ? -x : x;
    /// <summary>Absolute value.</summary>
    [Intrinsic(IntrinsicOp.Abs)]
    public static long Abs(long x) => x < 0 ? -x : x;
    /// <summary>x·y + z with one rounding.</summary>
    [Intrinsic(IntrinsicOp.Fma)]
    public static float Fma(float x, float y, float z) => MathF.FusedMultiplyAdd(x, y, z);
    /// <summary>x·y + z with one rounding.</summary>
    [Intrinsic(IntrinsicOp.Fma)]
    public static double Fma(double x, double y, double z) => Math.FusedMultiplyAdd(x, y, z);
    /// <summary>Magnitude of x with the sign of y.</summary>
    [Intrinsic(IntrinsicOp.CopySign)]
    public static float CopySign(float x, float y) => MathF.CopySign(x, y);
    /// <summary>True when x is NaN.</summary>
    [Intrinsic(IntrinsicOp.IsNaN)]
    public static bool IsNaN(float x) => float.IsNaN(x);
    /// <summary>True when x is ±∞.</summary>
    [Intrinsic(IntrinsicOp.IsInfinity)]
    public static bool IsInfinity(float x) => float.IsInfinity(x);
    /// <summary>True when x is neither NaN nor ±∞.</summary>
    [Intrinsic(IntrinsicOp.IsFinite)]
    public static bool IsFinite(float x) => float.IsFinite(x);
    /// <summary>True when x is NaN.</summary>
    [Intrinsic(IntrinsicOp.IsNaN)]
    public static bool IsNaN(double x) => double.IsNaN(x);
    /// <summary>True when x is ±∞.</summary>
    [Intrinsic(IntrinsicOp.IsInfinity)]
    public static bool IsInfinity(double x) => double.IsInfinity(x);
    /// <summary>True when x is neither NaN nor ±∞.</summary>
    [Intrinsic(IntrinsicOp.IsFinite)]
    public static bool IsFinite(double x) => double.IsFinite(x);
    /// <summary>Reinterprets the bits of a float as an int.</summary>
    [Intrinsic(IntrinsicOp.BitCast)]
    public static int AsInt(float x) => BitConverter.SingleToInt32Bits(x);
    /// <summary>Reinterprets the bits of an int as a float.</summary>
    [Intrinsic(IntrinsicOp.BitCast)]
    public static float AsFloat(int x) => BitConverter.Int32BitsToSingle(x);

    /// <summary>The largest |x| <see cref="SmallIntToFloat"/> converts exactly: 2²².</summary>
    public const int SmallIntLimit = 1 << 22;

    /// <summary>
    /// (float)<paramref name="x"/> for |x| ≤ <see cref="SmallIntLimit"/>, by the bits of 1.5 · 2²³ + x (x lands in the
    /// mantissa exactly) less 1.5 · 2²³: an integer add and a float add. On the GPU <c>cvt.rn.f32.s32</c> issues on the
    /// conversion pipe at the special-function rate, beside the softmax's <c>ex2</c> per score; these two run on the integer
    /// and FMA pipes. Beyond the limit the result is wrong: callers bound x.
    /// </summary>
    public static float SmallIntToFloat(int x) => AsFloat(0x4B400000 + x) - 12582912f;

    /// <summary>Rounds a float to the nearest Half (ties to even).</summary>
    [Intrinsic(IntrinsicOp.FloatToHalf)]
    public static Half ToHalf(float x) => (Half)x;
    /// <summary>Widens a Half exactly to float.</summary>
    [Intrinsic(IntrinsicOp.HalfToFloat)]
    public static float ToFloat(Half x) => (float)x;
    /// <summary>Integer division rounding up, for grid sizes and tile counts.</summary>
    public static int DivUp(int x, int y) => (x + y - 1) / y;
}
