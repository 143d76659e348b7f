using FlashAttn.Compute;

namespace FlashAttn;

/// <summary>Maps element types to <see cref="DType"/> and back.</summary>
internal static class DTypes
{
    /// <summary>The <see cref="DType"/> of <typeparamref name="T"/>.</summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, Half, BFloat16 or int.</exception>
    public static DType Of<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return DType.Float32;
        if (typeof(T) == typeof(Half)) return DType.Float16;
        if (typeof(T) == typeof(BFloat16)) return DType.BFloat16;
        if (typeof(T) == typeof(int)) return DType.Int32;
        throw new NotSupportedException(
            $"Element type {typeof(T).Name} is not supported: use float, System.Half or FlashAttn.BFloat16 (int for index tensors).");
    }

    /// <summary>True for the element types attention computes on (q, k, v, outputs): fp32, fp16, bf16.</summary>
    public static bool IsFloatingPoint(DType dtype) => dtype is DType.Float32 or DType.Float16 or DType.BFloat16;

    /// <summary>True for the 16-bit floating-point types (fp16, bf16).</summary>
    public static bool IsHalfPrecision(DType dtype) => dtype is DType.Float16 or DType.BFloat16;

    /// <summary>Bytes per element.</summary>
    public static int SizeOf(DType dtype) => dtype is DType.Float32 or DType.Int32 ? 4 : 2;

    /// <summary>Widens one element to double.</summary>
    public static double ToDouble<T>(T value) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return (float)(object)value;
        if (typeof(T) == typeof(Half)) return (double)(Half)(object)value;
        if (typeof(T) == typeof(BFloat16)) return (float)(BFloat16)(object)value;
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>Rounds a double to <typeparamref name="T"/> (through float for the 16-bit types' ties).</summary>
    public static T FromDouble<T>(double value) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return (T)(object)(float)value;
        if (typeof(T) == typeof(Half)) return (T)(object)(Half)value;
        if (typeof(T) == typeof(BFloat16)) return (T)(object)(BFloat16)(float)value;
        throw new NotSupportedException(typeof(T).Name);
    }
}
