using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Register-blocked products of shared fp32 tiles. Each thread accumulates its own
/// <c>rows × cols</c> block <c>c[i·cols + j]</c>, for rows <c>rowBase + i</c> and strided columns
/// <c>colLane + j·colStride</c>; every loop over i and j has a constant bound once the kernel is specialized,
/// so <c>c</c> stays in registers.
/// </summary>
internal static class TileMath
{
    /// <summary>C += A·Bᵀ (S = Q·Kᵀ, dP = dO·Vᵀ): A rows and B rows both have length <paramref name="depth"/>.</summary>
    public static void MultiplyABt(ArrayView<float> a, int aStride, ArrayView<float> b, int bStride, int depth,
        ArrayView<float> c, int rowBase, int rows, int colLane, int colStride, int cols)
    {
        for (int k = 0; k < depth; k++)
            for (int i = 0; i < rows; i++)
            {
                float ai = a[(rowBase + i) * aStride + k];
                for (int j = 0; j < cols; j++)
                    c[i * cols + j] += ai * b[(colLane + j * colStride) * bStride + k];
            }
    }

    /// <summary>C += A·B (O += P·V, dQ += dS·K): A is rows × depth, B is depth × columns.</summary>
    public static void MultiplyAB(ArrayView<float> a, int aStride, ArrayView<float> b, int bStride, int depth,
        ArrayView<float> c, int rowBase, int rows, int colLane, int colStride, int cols)
    {
        for (int k = 0; k < depth; k++)
            for (int i = 0; i < rows; i++)
            {
                float ai = a[(rowBase + i) * aStride + k];
                for (int j = 0; j < cols; j++)
                    c[i * cols + j] += ai * b[k * bStride + colLane + j * colStride];
            }
    }

    /// <summary>C += Aᵀ·B (dV += Pᵀ·dO, dK += dSᵀ·Q): A is depth × rows, B is depth × columns.</summary>
    public static void MultiplyAtB(ArrayView<float> a, int aStride, ArrayView<float> b, int bStride, int depth,
        ArrayView<float> c, int rowBase, int rows, int colLane, int colStride, int cols)
    {
        for (int k = 0; k < depth; k++)
            for (int i = 0; i < rows; i++)
            {
                float ai = a[k * aStride + rowBase + i];
                for (int j = 0; j < cols; j++)
                    c[i * cols + j] += ai * b[k * bStride + colLane + j * colStride];
            }
    }

    /// <summary>Sets the first <paramref name="count"/> registers to <paramref name="value"/>.</summary>
    public static void Fill(ArrayView<float> registers, int count, float value)
    {
        for (int i = 0; i < count; i++) registers[i] = value;
    }
}
