namespace FlashAttn.Kernels;

/// <summary>A tile entirely visible: no element-wise mask.</summary>
internal readonly struct FullBlock : IBlockMask
{
    /// <inheritdoc/>
    public static bool Enabled => false;
}
