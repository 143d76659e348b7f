namespace FlashAttn.Kernels;

/// <summary>
/// Compile-time flag of the inner block methods: whether a tile needs the element-wise mask (it
/// straddles the causal diagonal or the s_k end). One generic inner method, two instantiations.
/// </summary>
internal interface IBlockMask
{
    /// <summary>True when elements must be tested against <see cref="AttentionMask.Visible"/>.</summary>
    static abstract bool Enabled { get; }
}
