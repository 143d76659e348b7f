namespace FlashAttn;

/// <summary>The four 32-bit output words of one Philox4x32-10 call (<see cref="Philox.Block"/>): a small struct, so kernels
/// keep them in registers (no array).</summary>
public readonly struct PhiloxBlock(uint word0, uint word1, uint word2, uint word3)
{
    /// <summary>Word 0.</summary>
    public uint Word0 { get; } = word0;

    /// <summary>Word 1.</summary>
    public uint Word1 { get; } = word1;

    /// <summary>Word 2.</summary>
    public uint Word2 { get; } = word2;

    /// <summary>Word 3.</summary>
    public uint Word3 { get; } = word3;

    /// <summary>Word <paramref name="word"/> (0…3).</summary>
    public uint Word(int word) => word == 0 ? Word0 : word == 1 ? Word1 : word == 2 ? Word2 : Word3;

    /// <summary>Byte <paramref name="index"/> (0…15) of the block: byte index &amp; 3 (0: the lowest) of word index / 4 (a
    /// shift, not a branch, when only the low two bits are known at run time).</summary>
    public uint Byte(int index) => (Word(index >> 2) >> ((index & 3) << 3)) & 0xFF;
}
