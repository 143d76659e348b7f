using System.Runtime.CompilerServices;
using FlashAttn.Cpu.Simd;

namespace FlashAttn.Cpu;

/// <summary>Whole-row vector operations on padded fp32 rows (lengths are multiples of the vector width).</summary>
internal static unsafe class Rows
{
    /// <summary>row[x] *= factor.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scale<TOps, TVector>(float* row, int length, float factor) where TOps : struct, ISimd<TVector> where TVector : struct
    {
        var f = TOps.Broadcast(factor);
        for (int x = 0; x < length; x += TOps.Count) TOps.Store(row + x, TOps.Multiply(TOps.Load(row + x), f));
    }
}
