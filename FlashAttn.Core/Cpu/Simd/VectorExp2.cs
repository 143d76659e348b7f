using System.Runtime.CompilerServices;

namespace FlashAttn.Cpu.Simd;

/// <summary>
/// 2ˣ on whole vectors: x = n + f with n = round(x), f ∈ [−½, ½]; 2ᶠ by its degree-7 Taylor polynomial in f·ln 2
/// (truncation error (½ ln 2)⁸/8! ≈ 5·10⁻⁹, below fp32's half-ulp), times 2ⁿ built in the exponent bits.
/// Inputs below −127 (and −∞, from masked scores) give 0, by a compare and a select at the end rather than a clamp at
/// the start, so that a NaN input stays NaN (a clamp by the hardware's max could turn it into 0); the online softmax never
/// passes inputs above 0.
/// </summary>
internal static class VectorExp2
{
    /// <summary>Below this 2ˣ is a denormal, flushed to 0.</summary>
    private const float MinInput = -FloatBits.ExponentBias;

    /// <summary>(ln 2)ᵏ / k! for k = 1…7: the Taylor coefficients of 2ᶠ = e^(f ln 2).</summary>
    private const float C1 = 0.6931471805599453f, C2 = 0.2402265069591007f, C3 = 0.05550410866482158f,
        C4 = 0.009618129107628477f, C5 = 0.0013333558146428443f, C6 = 1.5403530393381608e-4f, C7 = 1.525273380405984e-5f;

    /// <summary>2ˣ lane-wise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVector Exp2<TOps, TVector>(TVector x) where TOps : struct, ISimd<TVector> where TVector : struct
    {
        var underflow = TOps.LessThan(x, TOps.Broadcast(MinInput));
        var n = TOps.Round(x);
        var f = TOps.Subtract(x, n);
        var p = TOps.MultiplyAdd(TOps.Broadcast(C7), f, TOps.Broadcast(C6));
        p = TOps.MultiplyAdd(p, f, TOps.Broadcast(C5));
        p = TOps.MultiplyAdd(p, f, TOps.Broadcast(C4));
        p = TOps.MultiplyAdd(p, f, TOps.Broadcast(C3));
        p = TOps.MultiplyAdd(p, f, TOps.Broadcast(C2));
        p = TOps.MultiplyAdd(p, f, TOps.Broadcast(C1));
        p = TOps.MultiplyAdd(p, f, TOps.Broadcast(1f));
        return TOps.ZeroWhere(underflow, TOps.Multiply(p, TOps.Pow2(n)));
    }
}
