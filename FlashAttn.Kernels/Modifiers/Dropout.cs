namespace FlashAttn;

/// <summary>
/// Dropout on the attention probabilities P: each P_ij is kept with probability 1 − p and scaled by 1/(1 − p).
/// <para>
/// One Philox4x32-10 call (<see cref="Philox.Block"/>) decides 8 entries, one per 16-bit half of its 4 words. The entry
/// (batch, head, query, key) belongs to the group with counter c0 = ((key ≫ 4) ≪ 2) | ((key ≫ 1) &amp; 3),
/// c1 = ((query ≫ 4) ≪ 3) | (query &amp; 7), c2 = batch · h_q + head, c3 = offset (low 32 bits), and key (seed low 32 bits,
/// seed high 32 bits ⊕ offset high 32 bits): the 8 entries that differ only in key bit 0, key bit 3 and query bit 3
/// (<see cref="Group(uint, uint, uint, int, int, int, int, int)"/>). Inside the group the entry is
/// i = (key &amp; 1) | ((key ≫ 3) &amp; 1) ≪ 1 | ((query ≫ 3) &amp; 1) ≪ 2 (<see cref="IndexInGroup"/>), and it is kept when
/// 16-bit half i &amp; 1 (0: the low half) of word i ≫ 1 is ≥ <see cref="Threshold16"/> = min(65535, round(p · 65536)): p acts
/// quantised to 1/65536 (the kept scale stays 1/(1 − p)).
/// </para>
/// <para>
/// Why this grouping: a lane of the tensor-core forward holds, for rows g, g + 8 of a 16-row tile and two 8-key tiles,
/// keys 2t, 2t + 1 of each: its 8 entries are exactly one group, so one call serves them all; the transposed backward's
/// lane (keys g, g + 8 × queries 2t, 2t + 1 of two query tiles) gets 4 entries per call. The same functions run in every
/// kernel (forward and backward) and on the host (<see cref="Keep(int, int, int, int, int)"/>), so masks can be checked.
/// </para>
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

    /// <summary>16-bit random values below this are dropped: min(65535, round(p · 65536)).</summary>
    public uint Threshold16 => (uint)Math.Min(65535.0, Math.Round(Probability * 65536.0));

    /// <summary>1/(1 − p): the scale of kept probabilities.</summary>
    public float KeptScale => 1f / (1f - Probability);

    /// <summary>True when dropout acts (p &gt; 0).</summary>
    public bool Enabled => Probability > 0f;

    /// <summary>The kernels' view: seed words with the offset's high half folded into the key.</summary>
    public uint SeedLow => (uint)Seed;

    /// <summary>The key's second word.</summary>
    public uint SeedHigh => (uint)(Seed >> 32) ^ (uint)(Offset >> 32);

    /// <summary>The Philox words of the group of (batch, head, query, key) (the class summary says which entries share
    /// them); <paramref name="headsQ"/> = h_q, <paramref name="offset"/> the offset's low 32 bits.</summary>
    public static PhiloxBlock Group(uint seedLow, uint seedHigh, uint offset, int headsQ, int batch, int head, int query, int key)
        => Philox.Block(((uint)key >> 4 << 2) | (((uint)key >> 1) & 3), ((uint)query >> 4 << 3) | ((uint)query & 7),
            (uint)(batch * headsQ + head), offset, seedLow, seedHigh);

    /// <summary>The entry of (query, key) inside its group (0…7): which 16-bit half of the group's words decides it.</summary>
    public static int IndexInGroup(int query, int key) => (key & 1) | (((key >> 3) & 1) << 1) | (((query >> 3) & 1) << 2);

    /// <summary>True when entry <paramref name="index"/> of the group with words <paramref name="group"/> is kept.</summary>
    public static bool Kept(PhiloxBlock group, int index, uint threshold16) => group.Half(index) >= threshold16;

    /// <summary>True when P at (batch, head, query, key) is kept: one Philox call for this entry alone (kernels share a
    /// <see cref="Group(uint, uint, uint, int, int, int, int, int)"/> between entries instead).</summary>
    public static bool KeepAt(uint threshold16, uint seedLow, uint seedHigh, uint offset, int headsQ, int batch, int head, int query, int key)
        => Kept(Group(seedLow, seedHigh, offset, headsQ, batch, head, query, key), IndexInGroup(query, key), threshold16);

    /// <summary>The Philox words of the group of (batch, head, query, key) under this dropout.</summary>
    public PhiloxBlock GroupOf(int headsQ, int batch, int head, int query, int key)
        => Group(SeedLow, SeedHigh, (uint)Offset, headsQ, batch, head, query, key);

    /// <summary>True when P at (batch, head, query, key) is kept under this dropout.</summary>
    public bool Keep(int headsQ, int batch, int head, int query, int key)
        => KeepAt(Threshold16, SeedLow, SeedHigh, (uint)Offset, headsQ, batch, head, query, key);
}
