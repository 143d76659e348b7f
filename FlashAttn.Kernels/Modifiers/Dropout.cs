namespace FlashAttn;

/// <summary>
/// Dropout on the attention probabilities P: each P_ij is dropped with probability p' = <see cref="Threshold8"/> / 256 (p
/// rounded to a multiple of 1/256, as FlashAttention-2's 8-bit threshold) and kept ones are scaled by 1/(1 − p'), so the
/// expectation of the kept P is P exactly.
/// <para>
/// One Philox4x32-10 call (<see cref="Philox.Block"/>) decides 16 entries, one per byte of its 4 words. The entry
/// (batch, head, query, key) belongs to the group with counter c0 = ((key ≫ 5) ≪ 2) | ((key ≫ 1) &amp; 3),
/// c1 = ((query ≫ 4) ≪ 3) | (query &amp; 7), c2 = batch · h_q + head, c3 = offset (low 32 bits), and key (seed low 32 bits,
/// seed high 32 bits ⊕ offset high 32 bits): the 16 entries that differ only in key bits 0, 3, 4 and query bit 3
/// (<see cref="Group(uint, uint, uint, int, int, int, int, int)"/>). Inside the group the entry is
/// i = (key &amp; 1) | ((key ≫ 4) &amp; 1) ≪ 1 | ((key ≫ 3) &amp; 1) ≪ 2 | ((query ≫ 3) &amp; 1) ≪ 3 (<see cref="Index"/>), and
/// it is kept when byte i &amp; 3 (0: the lowest) of word i ≫ 2 is ≥ <see cref="Threshold8"/>.
/// </para>
/// <para>
/// Why this grouping: a lane of the tensor-core forward holds, for rows g, g + 8 of a 16-row tile and each 8-key tile,
/// keys 2t, 2t + 1: over four 8-key tiles its 16 entries are exactly one group, so one call serves them all; the
/// transposed backward's lane (keys g, g + 8, g + 16, g + 24 × queries 2t, 2t + 1 of two query tiles) gets 8 entries per
/// call. The key bits a backward lane holds fixed (bit 0, and bit 4 where a warp has 16 keys) pick the byte inside a word,
/// a shift, and the bits that vary with a lane's registers pick the word, a constant. The same functions run in every
/// kernel (forward and backward) and on the host (<see cref="Keep(int, int, int, int, int)"/>), so masks can be checked.
/// </para>
/// </summary>
/// <param name="probability">p, 0 or in [1/512, 1): a smaller p would round to no dropout at all.</param>
/// <param name="seed">The generator's seed.</param>
/// <param name="offset">The generator's offset (advance it between calls that must draw different masks).</param>
public readonly struct Dropout(float probability, ulong seed, ulong offset)
{
    /// <summary>The smallest p other than 0 that acts: 1/512 rounds to the 8-bit threshold 1.</summary>
    public const float SmallestProbability = 1f / 512;

    /// <summary>p as given.</summary>
    public float Probability { get; } = probability;

    /// <summary>The seed.</summary>
    public ulong Seed { get; } = seed;

    /// <summary>The offset.</summary>
    public ulong Offset { get; } = offset;

    /// <summary>8-bit random values below this are dropped: min(255, round(p · 256)), halves rounded up.</summary>
    public uint Threshold8 => (uint)Math.Min(255.0, Math.Round(Probability * 256.0, MidpointRounding.AwayFromZero));

    /// <summary>The probability the kernels drop with: <see cref="Threshold8"/> / 256.</summary>
    public float EffectiveProbability => Threshold8 / 256f;

    /// <summary>1/(1 − p'), p' = <see cref="EffectiveProbability"/>: the scale of kept probabilities.</summary>
    public float KeptScale => 256f / (256 - Threshold8);

    /// <summary>True when dropout acts (p &gt; 0).</summary>
    public bool Enabled => Probability > 0f;

    /// <summary>True when p is 0 or one the kernels can draw: in [1/512, 1) (NaN is not).</summary>
    public bool IsValid => Probability == 0f || (Probability >= SmallestProbability && Probability < 1f);

    /// <summary>The message for a probability that is not <see cref="IsValid"/>, naming the argument <paramref name="name"/>.</summary>
    public static string ProbabilityRule(string name, float probability)
        => $"{name} must be 0 or in [1/512, 1) (the kernels compare 8-bit random values with round(256·p), as FlashAttention-2; a smaller p would drop nothing); actual {probability}.";

    /// <summary>The kernels' view: seed words with the offset's high half folded into the key.</summary>
    public uint SeedLow => (uint)Seed;

    /// <summary>The key's second word.</summary>
    public uint SeedHigh => (uint)(Seed >> 32) ^ (uint)(Offset >> 32);

    /// <summary>The Philox words of the group of (batch, head, query, key) (the class summary says which entries share
    /// them); <paramref name="headsQ"/> = h_q, <paramref name="offset"/> the offset's low 32 bits.</summary>
    public static PhiloxBlock Group(uint seedLow, uint seedHigh, uint offset, int headsQ, int batch, int head, int query, int key)
        => Philox.Block(((uint)key >> 5 << 2) | (((uint)key >> 1) & 3), ((uint)query >> 4 << 3) | ((uint)query & 7),
            (uint)(batch * headsQ + head), offset, seedLow, seedHigh);

    /// <summary>The entry inside its group (0…15) from the four bits of (query, key) that tell a group's entries apart
    /// (each 0 or 1): the key's bits 0 and 4 pick the byte of a word, its bit 3 and the query's bit 3 the word.</summary>
    public static int Index(int queryBit3, int keyBit0, int keyBit3, int keyBit4) => keyBit0 | (keyBit4 << 1) | (keyBit3 << 2) | (queryBit3 << 3);

    /// <summary>Where entry <paramref name="entry"/> (0…15, <see cref="Index"/>) of a group lies from the group's first query
    /// and key (both with the group's bits clear): the inverse of <see cref="Index"/>, for loops that walk a group's entries.</summary>
    public static (int Query, int Key) EntryOffsets(int entry) => (8 * (entry >> 3), (entry & 1) + 16 * ((entry >> 1) & 1) + 8 * ((entry >> 2) & 1));

    /// <summary>The entry of (query, key) inside its group (0…15): which byte of the group's words decides it.</summary>
    public static int IndexInGroup(int query, int key) => Index((query >> 3) & 1, key & 1, (key >> 3) & 1, (key >> 4) & 1);

    /// <summary>True when entry <paramref name="index"/> of the group with words <paramref name="group"/> is kept.</summary>
    public static bool Kept(PhiloxBlock group, int index, uint threshold8) => group.Byte(index) >= threshold8;

    /// <summary>
    /// The decisions of the group's entries whose key bit 0 is <paramref name="keyBit0"/> (a backward lane holds it fixed) as
    /// bits: bit j set when entry 2j + <paramref name="keyBit0"/> is kept (<see cref="Kept(PhiloxBlock, int, uint)"/>), so
    /// entry i's bit is i ≫ 1 (<see cref="KeptIn"/>). A kernel draws them where registers are free and keeps a byte instead
    /// of four words. Bytes 0 and 2 of a word (after the shift that brings the key's byte down) are compared at once: each,
    /// in its own 16-bit half, plus 256 − threshold carries into bit 8 of that half exactly when it is ≥ threshold
    /// (threshold 0…255: no half overflows).
    /// </summary>
    public static uint KeptBitsWithKeyBit0(PhiloxBlock group, uint threshold8, int keyBit0)
    {
        uint add = (256u - threshold8) * 0x0001_0001u;
        int shift = 8 * keyBit0;
        return KeptPair(group.Word0 >> shift, add) | KeptPair(group.Word1 >> shift, add) << 2 | KeptPair(group.Word2 >> shift, add) << 4
            | KeptPair(group.Word3 >> shift, add) << 6;
    }

    /// <summary>True when bit <paramref name="bit"/> of <paramref name="bits"/> (<see cref="KeptBitsWithKeyBit0"/>) is set.</summary>
    public static bool KeptIn(uint bits, int bit) => ((bits >> bit) & 1) != 0;

    /// <summary>Bytes 0 and 2 of <paramref name="word"/> kept: bits 0 and 1.</summary>
    private static uint KeptPair(uint word, uint add)
    {
        uint sum = (word & 0x00FF_00FFu) + add;
        return ((sum >> 8) & 1) | ((sum >> 23) & 2);
    }

    /// <summary>True when P at (batch, head, query, key) is kept: one Philox call for this entry alone (kernels share a
    /// <see cref="Group(uint, uint, uint, int, int, int, int, int)"/> between entries instead).</summary>
    public static bool KeepAt(uint threshold8, uint seedLow, uint seedHigh, uint offset, int headsQ, int batch, int head, int query, int key)
        => Kept(Group(seedLow, seedHigh, offset, headsQ, batch, head, query, key), IndexInGroup(query, key), threshold8);

    /// <summary>The Philox words of the group of (batch, head, query, key) under this dropout.</summary>
    public PhiloxBlock GroupOf(int headsQ, int batch, int head, int query, int key)
        => Group(SeedLow, SeedHigh, (uint)Offset, headsQ, batch, head, query, key);

    /// <summary>True when P at (batch, head, query, key) is kept under this dropout.</summary>
    public bool Keep(int headsQ, int batch, int head, int query, int key)
        => KeepAt(Threshold8, SeedLow, SeedHigh, (uint)Offset, headsQ, batch, head, query, key);
}
