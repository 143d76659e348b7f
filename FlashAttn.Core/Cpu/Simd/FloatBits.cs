namespace FlashAttn.Cpu.Simd;

/// <summary>The IEEE 754 binary32 layout that <see cref="ISimd{TVector}.Pow2"/> builds 2ⁿ from.</summary>
internal static class FloatBits
{
    /// <summary>Stored exponent = n + 127.</summary>
    public const int ExponentBias = 127;

    /// <summary>The exponent field starts above the 23 mantissa bits.</summary>
    public const int MantissaBits = 23;
}
