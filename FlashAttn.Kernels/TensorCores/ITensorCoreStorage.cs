using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// A storage type the tensor-core kernels multiply, and how: fragment loads from shared tiles, the product of one k16 step
/// into two n8 accumulator tiles, P's accumulators reused as an A operand, paired stores. The kernels are generic over it,
/// so fp16, bf16 and fp32 (3×TF32) are one kernel body each, compiled once per storage.
/// </summary>
/// <remarks>
/// Operands live in <c>int</c> register arrays (indices are constants once the kernel's loops unroll): A operand i takes
/// words [i·<see cref="AWords"/>, (i+1)·AWords), B operand pair i words [i·<see cref="BWords"/>, …). An A operand covers
/// 16 rows × 16 k (one k16 step); a B operand pair covers 16 k × two n8 tiles. Tiles are row-major in shared memory with
/// <c>stride</c> elements per row. Loads from a tile whose rows are k ("transposed") and <see cref="AccumulatorsAsA"/>
/// may order the k of a step differently from the plain loads (3×TF32 does, so that P's accumulators are its A operand
/// without shuffles): a product always pairs two operands that order k alike. Every lane of the warp calls (warp-collective).
/// </remarks>
internal interface ITensorCoreStorage<T> : IStorage<T> where T : unmanaged
{
    /// <summary>Bytes of one element in the shared tiles.</summary>
    static abstract int ElementBytes { get; }

    /// <summary>Registers one A operand (16 × k16) takes.</summary>
    static abstract int AWords { get; }

    /// <summary>Registers one B operand pair (k16 × two n8 tiles) takes.</summary>
    static abstract int BWords { get; }

    /// <summary>A operand <paramref name="index"/> ← rows <paramref name="row0"/>… × columns <paramref name="k0"/>… of a [m][k] tile.</summary>
    static abstract void LoadA(ArrayView<T> tile, int stride, int row0, int k0, ArrayView<int> a, int index);

    /// <summary>A operand <paramref name="index"/> ← rows <paramref name="row0"/>… × columns <paramref name="k0"/>… of a [m][k] tile,
    /// in the k order of the transposed loads (what <see cref="AccumulatorsAsA"/> gives for the same values): the backward's
    /// Pᵀ and dSᵀ, stored to shared memory by the warps that computed them, meet dO and Q loaded transposed.</summary>
    static abstract void LoadAInTransposedOrder(ArrayView<T> tile, int stride, int row0, int k0, ArrayView<int> a, int index);

    /// <summary>A operand <paramref name="index"/> ← m = columns <paramref name="row0"/>… × k = rows <paramref name="k0"/>… of a [k][m] tile.</summary>
    static abstract void LoadATransposed(ArrayView<T> tile, int stride, int k0, int row0, ArrayView<int> a, int index);

    /// <summary>B operand pair <paramref name="index"/> ← n = rows <paramref name="n0"/>… × k = columns <paramref name="k0"/>… of a [n][k] tile.</summary>
    static abstract void LoadB(ArrayView<T> tile, int stride, int n0, int k0, ArrayView<int> b, int index);

    /// <summary>B operand pair <paramref name="index"/> ← k = rows <paramref name="k0"/>… × n = columns <paramref name="n0"/>… of a [k][n] tile.</summary>
    static abstract void LoadBTransposed(ArrayView<T> tile, int stride, int k0, int n0, ArrayView<int> b, int index);

    /// <summary>A operand <paramref name="index"/> ← accumulator tiles 2kk and 2kk + 1 of <paramref name="c"/> (16 rows × k16; the FA2
    /// register reuse of P), in the k order of the transposed loads.</summary>
    static abstract void AccumulatorsAsA(ArrayView<float> c, int kk, ArrayView<int> a, int index);

    /// <summary>Accumulator tiles <paramref name="tile"/> and <paramref name="tile"/> + 1 += A operand <paramref name="aIndex"/> ·
    /// B operand pair <paramref name="bIndex"/>.</summary>
    static abstract void MultiplyAddTwoTiles(ArrayView<float> accumulators, int tile, ArrayView<int> a, int aIndex, ArrayView<int> b, int bIndex);

    /// <summary>Accumulator tiles <paramref name="tile"/> and <paramref name="tile"/> + 1 (16 rows × two n8 tiles), rounded to the
    /// storage, into rows <paramref name="row0"/>… × columns <paramref name="column0"/>… of a row-major shared tile (16-bit:
    /// one stmatrix.x4 instead of four 32-bit stores per lane).</summary>
    static abstract void StoreTwoTiles(ArrayView<float> c, int tile, ArrayView<T> destination, int stride, int row0, int column0);

    /// <summary>Stores two adjacent elements at an even <paramref name="index"/> (8-byte aligned for fp32), <paramref name="low"/> first.</summary>
    static abstract void StorePair(ArrayView<T> destination, long index, float low, float high);

    /// <summary><see cref="StorePair(ArrayView{T}, long, float, float)"/> with 32-bit index arithmetic (shared tiles).</summary>
    static abstract void StorePair(ArrayView<T> destination, int index, float low, float high);
}
