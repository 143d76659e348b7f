using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Register arrays of tensor-core fragments: fragment i of an array is its elements 4i…4i+3 (an A operand's four
/// registers, or a C/D accumulator's four floats). Indices are constants once the kernel's loops unroll, so the arrays
/// stay in registers.
/// </summary>
internal static class Fragments
{
    /// <summary>A operand <paramref name="index"/>.</summary>
    public static Int4 GetA(ArrayView<int> fragments, int index)
        => new(fragments[4 * index], fragments[4 * index + 1], fragments[4 * index + 2], fragments[4 * index + 3]);

    /// <summary>Stores A operand <paramref name="index"/>.</summary>
    public static void SetA(ArrayView<int> fragments, int index, Int4 value)
    {
        fragments[4 * index] = value.X;
        fragments[4 * index + 1] = value.Y;
        fragments[4 * index + 2] = value.Z;
        fragments[4 * index + 3] = value.W;
    }

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

    /// <summary>
    /// The A operand for k-step <paramref name="kk"/> made of accumulator tiles 2kk and 2kk+1 rounded to 16 bits: the
    /// C layout of two adjacent n8 tiles is exactly the A layout of one k16 step (the FA2 register reuse of P).
    /// </summary>
    public static Int4 AccumulatorsAsA<T, TStorage>(ArrayView<float> c, int kk)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T>
        => new(TStorage.Pack(c[8 * kk], c[8 * kk + 1]), TStorage.Pack(c[8 * kk + 2], c[8 * kk + 3]),
            TStorage.Pack(c[8 * kk + 4], c[8 * kk + 5]), TStorage.Pack(c[8 * kk + 6], c[8 * kk + 7]));

    /// <summary>
    /// Accumulators <paramref name="tile"/> and <paramref name="tile"/> + 1 += A·B for the two n8 tiles whose B fragments an
    /// ldmatrix.x4 returned (X, Y: the first tile's b0, b1; Z, W: the second's).
    /// </summary>
    public static void MultiplyAddTwoTiles<T, TStorage>(ArrayView<float> accumulators, int tile, Int4 a, Int4 b)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T>
    {
        SetC(accumulators, tile, TStorage.MultiplyAdd(a, new Int2(b.X, b.Y), GetC(accumulators, tile)));
        SetC(accumulators, tile + 1, TStorage.MultiplyAdd(a, new Int2(b.Z, b.W), GetC(accumulators, tile + 1)));
    }
}
