using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Register arrays of tensor-core accumulators: tile i of an array is its elements 4i…4i+3 (a C/D fragment's four
/// floats). Indices are constants once the kernel's loops unroll, so the arrays stay in registers.
/// </summary>
internal static class Fragments
{
    /// <summary>Accumulator <paramref name="tile"/> (an m16n8 tile: rows g, g+8 × columns 2t, 2t+1).</summary>
    public static Float4 GetC(ArrayView<float> accumulators, int tile)
        => new(accumulators[4 * tile], accumulators[4 * tile + 1], accumulators[4 * tile + 2], accumulators[4 * tile + 3]);

    /// <summary>Stores accumulator <paramref name="tile"/>.</summary>
    public static void SetC(ArrayView<float> accumulators, int tile, Float4 value)
    {
        accumulators[4 * tile] = value.X;
        accumulators[4 * tile + 1] = value.Y;
        accumulators[4 * tile + 2] = value.Z;
        accumulators[4 * tile + 3] = value.W;
    }
}
