namespace FlashAttn.Kernels;

/// <summary>A tile on the causal diagonal or past the s_k end: elements are masked.</summary>
internal readonly struct MaskedBlock : IBlockMask
{
    /// <inheritdoc/>
    public static bool Enabled => true;
}
