using FlashAttn.Compute;

// In the public FlashAttn namespace so that API users need no engine namespace; every engine and kernel file is in
// a namespace under FlashAttn, so their unqualified uses resolve to it unchanged.
namespace FlashAttn;

/// <summary>
/// The bfloat16 format: the top 16 bits of an IEEE float32 (8-bit exponent, 7-bit mantissa). Storage
/// type only; arithmetic goes through <see cref="float"/>. Conversion from float rounds to nearest even.
/// </summary>
public readonly struct BFloat16 : IEquatable<BFloat16>
{
    private readonly ushort _bits;

    private BFloat16(ushort bits) => _bits = bits;

    /// <summary>The raw bits.</summary>
    public ushort RawValue => _bits;

    /// <summary>Reinterprets raw bits as a bfloat16.</summary>
    public static BFloat16 FromRawValue(ushort bits) => new(bits);

    /// <summary>Rounds a float to the nearest bfloat16 (ties to even; NaN stays NaN).</summary>
    [Intrinsic(IntrinsicOp.FloatToBFloat16)]
    public static explicit operator BFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000)
            return new BFloat16((ushort)((bits >> 16) | 0x0040)); // quiet NaN
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return new BFloat16((ushort)((bits + roundingBias) >> 16));
    }

    /// <summary>Rounds a float to the nearest bfloat16 (ties to even; NaN stays NaN); the same as the explicit conversion.</summary>
    public static BFloat16 FromSingle(float value) => (BFloat16)value;

    /// <summary>Widens exactly to float; the same as the implicit conversion.</summary>
    public float ToSingle() => this;

    /// <summary>Widens exactly to float.</summary>
    [Intrinsic(IntrinsicOp.BFloat16ToFloat)]
    public static implicit operator float(BFloat16 value) => BitConverter.UInt32BitsToSingle((uint)value._bits << 16);

    /// <inheritdoc/>
    public bool Equals(BFloat16 other) => (float)this == (float)other;
    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is BFloat16 other && Equals(other);
    /// <inheritdoc/>
    public override int GetHashCode() => ((float)this).GetHashCode();
    /// <inheritdoc/>
    public override string ToString() => ((float)this).ToString();
}
