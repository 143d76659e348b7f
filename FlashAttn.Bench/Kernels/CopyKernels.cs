using FlashAttn.Compute;

namespace FlashAttn.Bench.Kernels;

/// <summary>Bandwidth benchmark: a grid-stride copy with 16-byte accesses (ld.global.v4 / st.global.v4).</summary>
internal static class CopyKernels
{
    /// <summary>output[i] = input[i] for every Float4, grid-stride so any grid size covers the buffer.</summary>
    public static void VectorizedCopy(ArrayView<Float4> input, ArrayView<Float4> output)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndexX; i < output.Length; i += stride)
            output[i] = input[i];
    }
}
