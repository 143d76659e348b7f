namespace FlashAttn;

/// <summary>
/// Dropout on the attention probabilities P: each P_ij is kept with probability 1 − p and scaled by 1/(1 − p). The
/// decision for (batch, head, query, key) is word key mod 4 of Philox4x32-10 with counter (key / 4, query,
/// batch · h_q + head, offset) and key (seed, seed ≫ 32 ⊕ offset ≫ 32): kept when that word ≥ p · 2³². The same
/// function runs in the kernels (forward and backward) and on the host (<see cref="Keep(int, int, int, int, int)"/>), so masks can be checked.
/// </summary>
/// <param name="probability">p, in [0, 1).</param>
/// <param name="seed">The generator's seed.</param>
/// <param name="offset">The generator's offset (advance it between calls that must draw different masks).</param>
public readonly struct Dropout(float probability, ulong seed, ulong offset)
{
    /// <summary>p.</summary>
    public float Probability { get; } = probability;

    /// <summary>The seed.</summary>
    public ulong Seed { get; } = seed;

    /// <summary>The offset.</summary>
    public ulong Offset { get; } = offset;

    /// <summary>Words below this are dropped: p · 2³².</summary>
    public uint Threshold => (uint)Math.Min(uint.MaxValue, Probability * 4294967296.0);

    /// <summary>1/(1 − p): the scale of kept probabilities.</summary>
    public float KeptScale => 1f / (1f - Probability);

    /// <summary>True when P at (batch, head, query, key) is kept; <paramref name="headsQ"/> = h_q.</summary>
    public static bool KeepAt(uint threshold, uint seedLow, uint seedHigh, uint offset, int headsQ, int batch, int head, int query, int key)
        => Philox.Word((uint)key >> 2, (uint)query, (uint)(batch * headsQ + head), offset, seedLow, seedHigh, key & 3) >= threshold;

    /// <summary>True when dropout acts (p &gt; 0).</summary>
    public bool Enabled => Probability > 0f;

    /// <summary>The kernels' view: seed words with the offset's high half folded into the key.</summary>
    public uint SeedLow => (uint)Seed;

    /// <summary>The key's second word.</summary>
    public uint SeedHigh => (uint)(Seed >> 32) ^ (uint)(Offset >> 32);

    /// <summary>True when P at (batch, head, query, key) is kept under this dropout.</summary>
    public bool Keep(int headsQ, int batch, int head, int query, int key)
        => KeepAt(Threshold, SeedLow, SeedHigh, (uint)Offset, headsQ, batch, head, query, key);
}
