using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>A 16-bit storage: its m16n8k16 mma and its f32×2 packing, which <see cref="HalfFragments"/> builds on.</summary>
internal interface IHalfStorage<T> : ITensorCoreStorage<T> where T : unmanaged
{
    /// <summary>D = A·B + C, m16n8k16 (fragment layouts in <see cref="TensorCore"/>).</summary>
    static abstract Float4 MultiplyAdd(Int4 a, Int2 b, Float4 c);

    /// <summary>Two fp32 values rounded to T and packed into one register, <paramref name="low"/> first.</summary>
    static abstract int Pack(float low, float high);

    /// <summary>The warpgroup product m64nNk16 with A and B in shared memory (<see cref="WarpGroupMma"/>, sm_90a).</summary>
    static abstract TAccumulators MultiplyAddWarpGroup<TAccumulators>(ulong a, ulong b, bool accumulate, TAccumulators d, bool transposeB)
        where TAccumulators : unmanaged, IWarpGroupAccumulators;

    /// <summary>The warpgroup product with A in registers (each warp's m16n8k16 A fragment).</summary>
    static abstract TAccumulators MultiplyAddWarpGroup<TAccumulators>(Int4 a, ulong b, bool accumulate, TAccumulators d, bool transposeB)
        where TAccumulators : unmanaged, IWarpGroupAccumulators;
}
