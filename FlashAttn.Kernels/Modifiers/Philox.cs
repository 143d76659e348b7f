namespace FlashAttn;

/// <summary>
/// Philox4x32-10 (Salmon et al., SC 2011; Random123, cuRAND, PyTorch): a counter-based generator — four 32-bit words of
/// a 128-bit counter and a 64-bit key give four random words, with no state. Plain C# that kernels inline and the host
/// runs alike, so the backward (and a test) regenerate exactly the forward's dropout mask.
/// </summary>
public static class Philox
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>The four words for counter (c0, c1, c2, c3) and key (k0, k1): word <paramref name="word"/> (0…3) of them.</summary>
    public static uint Word(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, int word) => Block(c0, c1, c2, c3, k0, k1).Word(word);

    /// <summary>The four words for counter (c0, c1, c2, c3) and key (k0, k1).</summary>
    public static PhiloxBlock Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            ulong product0 = (ulong)M0 * c0, product1 = (ulong)M1 * c2;
            uint hi0 = (uint)(product0 >> 32), lo0 = (uint)product0, hi1 = (uint)(product1 >> 32), lo1 = (uint)product1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
            k0 += W0;
            k1 += W1;
        }
        return new PhiloxBlock(c0, c1, c2, c3);
    }
}
