using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using FlashAttn.Compute;

namespace FlashAttn.Cpu;

/// <summary>
/// Storage dtype ↔ fp32 for the CPU path (all math is fp32): float is copied, Half goes through TensorPrimitives'
/// vectorised conversions, bfloat16 is its upper 16 bits. <c>typeof(T)</c> tests fold per instantiation.
/// </summary>
internal static unsafe class StorageConvert
{
    /// <summary>destination[i] = (float)source[i] · scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Widen<T>(T* source, float* destination, int count, float scale) where T : unmanaged
    {
        var to = new Span<float>(destination, count);
        if (typeof(T) == typeof(float))
        {
            // one pass (the same products as a copy scaled in place)
            if (scale != 1f) TensorPrimitives.Multiply(new ReadOnlySpan<float>(source, count), scale, to);
            else new ReadOnlySpan<float>(source, count).CopyTo(to);
            return;
        }
        if (typeof(T) == typeof(Half)) TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(source, count), to);
        else
        {
            var bits = (BFloat16*)source;
            for (int i = 0; i < count; i++) destination[i] = bits[i];
        }
        if (scale != 1f) TensorPrimitives.Multiply(to, scale, to);
    }

    /// <summary>destination[i] = round(source[i] · scale) to T; may scale <paramref name="source"/> in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Narrow<T>(float* source, T* destination, int count, float scale) where T : unmanaged
    {
        var from = new Span<float>(source, count);
        if (typeof(T) == typeof(float))
        {
            // one pass, as Widen
            var to = new Span<float>(destination, count);
            if (scale != 1f) TensorPrimitives.Multiply(from, scale, to);
            else from.CopyTo(to);
            return;
        }
        if (scale != 1f) TensorPrimitives.Multiply(from, scale, from);
        if (typeof(T) == typeof(Half)) TensorPrimitives.ConvertToHalf(from, new Span<Half>(destination, count));
        else
        {
            var bits = (BFloat16*)destination;
            for (int i = 0; i < count; i++) bits[i] = (BFloat16)source[i];
        }
    }
}
