using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// The backward kernels' dynamic shared memory, carved the same way by the dK/dV kernel and the
/// deterministic dQ kernel: four fp32 row tiles with padded rows (K, V of Bc rows; Q, dO of Br rows),
/// then P and dS (Br × Bc), then the Q tile's L and D (Br each). The register-tiled backward carves the same tiles its
/// own way (<see cref="CarveTransposed"/>). Passed whole to the tile helpers (the compiler splits it into its fields).
/// </summary>
internal struct BackwardSharedTiles
{
    public ArrayView<float> K, V, Q, DOut, P, DS, Lse, Delta;

    /// <summary>Splits <paramref name="shared"/> for tiles of <paramref name="br"/> query rows and <paramref name="bc"/> key rows of <paramref name="stride"/> floats.</summary>
    public static BackwardSharedTiles Carve(ArrayView<float> shared, int br, int bc, int stride)
    {
        int rows = (2 * bc + 2 * br) * stride;
        return new BackwardSharedTiles
        {
            K = shared.SubView(0, bc * stride),
            V = shared.SubView(bc * stride, bc * stride),
            Q = shared.SubView(2 * bc * stride, br * stride),
            DOut = shared.SubView((2 * bc + br) * stride, br * stride),
            P = shared.SubView(rows, br * bc),
            DS = shared.SubView(rows + br * bc, br * bc),
            Lse = shared.SubView(rows + 2 * br * bc, br),
            Delta = shared.SubView(rows + 2 * br * bc + br, br),
        };
    }

    /// <summary>
    /// The register-tiled backward's split (<see cref="BackwardRegisterTile"/>, padded head dim <paramref name="dPad"/>):
    /// K, V of Bc rows of d' + 4 floats; Q, dO of Br rows of d'; P and dS transposed (Bc rows of
    /// <see cref="BackwardRegisterTile.TransposedStride"/>); L and D (Br each).
    /// </summary>
    public static BackwardSharedTiles CarveTransposed(ArrayView<float> shared, int dPad)
    {
        const int br = BackwardRegisterTile.BlockRows, bc = BackwardRegisterTile.BlockCols;
        int kvFloats = bc * (dPad + 4), qFloats = br * dPad, tFloats = bc * BackwardRegisterTile.TransposedStride;
        return new BackwardSharedTiles
        {
            K = shared.SubView(0, kvFloats),
            V = shared.SubView(kvFloats, kvFloats),
            Q = shared.SubView(2 * kvFloats, qFloats),
            DOut = shared.SubView(2 * kvFloats + qFloats, qFloats),
            P = shared.SubView(2 * kvFloats + 2 * qFloats, tFloats),
            DS = shared.SubView(2 * kvFloats + 2 * qFloats + tFloats, tFloats),
            Lse = shared.SubView(2 * kvFloats + 2 * qFloats + 2 * tFloats, br),
            Delta = shared.SubView(2 * kvFloats + 2 * qFloats + 2 * tFloats + br, br),
        };
    }
}
