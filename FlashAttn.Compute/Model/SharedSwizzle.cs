namespace FlashAttn.Compute;

/// <summary>How a tile is swizzled in shared memory: as a <see cref="WarpGroupMma"/> descriptor reads it (the descriptor's bits
/// 62–63) and as a <see cref="TensorCopy"/> writes it.</summary>
public enum SharedSwizzle
{
    /// <summary>No swizzle: 8 × 16-byte core matrices, each 128 contiguous bytes.</summary>
    None = 0,

    /// <summary>128-byte rows; the 16-byte chunk index (address bits 4–6) XOR the row within an 8-row atom (bits 7–9).</summary>
    Bytes128 = 1,

    /// <summary>64-byte rows; address bits 4–5 XOR bits 7–8.</summary>
    Bytes64 = 2,

    /// <summary>32-byte rows; address bit 4 XOR bit 7.</summary>
    Bytes32 = 3,
}

/// <summary>The one meaning of <see cref="SharedSwizzle"/>, for the CPU's models of the tensor cores and the copy engine.</summary>
public static class SharedSwizzles
{
    /// <summary>The row a swizzle permutes within: 32, 64 or 128 bytes (0 for none).</summary>
    public static int RowBytes(SharedSwizzle swizzle) => swizzle switch
    {
        SharedSwizzle.None => 0,
        SharedSwizzle.Bytes32 => 32,
        SharedSwizzle.Bytes64 => 64,
        SharedSwizzle.Bytes128 => 128,
        _ => throw new ArgumentOutOfRangeException(nameof(swizzle), swizzle, "Not a swizzle."),
    };

    /// <summary>Where the byte a dense layout puts at shared-window address <paramref name="address"/> lands: its 16-byte chunk
    /// bits (4 and up) XOR the row bits of its 8-row atom (7 and up), as many of each as a row has chunks. An atom of 8
    /// rows therefore sits 8·w-aligned in the shared window.</summary>
    public static int Apply(int address, SharedSwizzle swizzle)
    {
        int width = RowBytes(swizzle);
        return width == 0 ? address : address ^ ((address >> 7) & (width / 16 - 1)) << 4;
    }
}
