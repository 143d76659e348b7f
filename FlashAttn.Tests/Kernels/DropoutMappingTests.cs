namespace FlashAttn.Tests.Kernels;

/// <summary>Pins <see cref="Dropout"/>'s random-number mapping: one Philox4x32-10 call per group of 16 entries, one byte
/// each, written out here from the documented formula so a change to the mapping fails loudly.</summary>
public class DropoutMappingTests
{
    [TestCase(0, 0, 0, 0)]
    [TestCase(1, 2, 37, 101)]
    [TestCase(0, 1, 8, 9)]
    [TestCase(1, 0, 1000, 3)]
    [TestCase(1, 1, 15, 4095)]
    public void KeepFollowsTheDocumentedFormula(int batch, int head, int query, int key)
    {
        const int headsQ = 3;
        const ulong seed = 0x0123_4567_89AB_CDEF, offset = 0x0000_0005_0000_0011;
        foreach (float probability in new[] { 0.1f, 0.5f, 0.9f })
        {
            var dropout = new Dropout(probability, seed, offset);
            uint c0 = (uint)(((key >> 5) << 2) | ((key >> 1) & 3)), c1 = (uint)(((query >> 4) << 3) | (query & 7));
            uint c2 = (uint)(batch * headsQ + head), c3 = unchecked((uint)offset), k0 = unchecked((uint)seed), k1 = (uint)(seed >> 32) ^ (uint)(offset >> 32);
            int index = (key & 1) | (((key >> 4) & 1) << 1) | (((key >> 3) & 1) << 2) | (((query >> 3) & 1) << 3);
            uint word = Philox.Word(c0, c1, c2, c3, k0, k1, index >> 2);
            uint value = (word >> (8 * (index & 3))) & 0xFF;
            uint threshold = (uint)Math.Min(255, Math.Round(probability * 256.0));
            Assert.That(dropout.Keep(headsQ, batch, head, query, key), Is.EqualTo(value >= threshold), $"p = {probability}");
        }
    }

    [Test]
    public void TheSixteenEntriesOfAGroupShareOneCallAndUseDistinctBytes()
    {
        // queries 32 + 5, + 8 × keys 64 + 6, + 1, + 8, + 9, + 16, + 17, + 24, + 25: one counter, indices 0…15
        var dropout = new Dropout(0.5f, seed: 99, offset: 7);
        var group = dropout.GroupOf(2, 1, 1, 37, 70);
        var indices = new List<int>();
        foreach (int query in new[] { 37, 45 })
            foreach (int key in new[] { 70, 71, 78, 79, 86, 87, 94, 95 })
            {
                Assert.That(dropout.GroupOf(2, 1, 1, query, key), Is.EqualTo(group), $"({query}, {key})");
                indices.Add(Dropout.IndexInGroup(query, key));
            }
        Assert.Multiple(() =>
        {
            Assert.That(indices, Is.EquivalentTo(Enumerable.Range(0, 16)));
            foreach (int entry in Enumerable.Range(0, 16))
            {
                var (dq, dk) = Dropout.EntryOffsets(entry);
                Assert.That(Dropout.IndexInGroup(32 + dq, 64 + dk), Is.EqualTo(entry), $"EntryOffsets inverts Index: entry {entry}");
            }
            Assert.That(dropout.GroupOf(2, 1, 1, 36, 70), Is.Not.EqualTo(group), "query bit 0 is in the counter");
            Assert.That(dropout.GroupOf(2, 1, 1, 37, 72), Is.Not.EqualTo(group), "key bit 1 is in the counter");
            Assert.That(dropout.GroupOf(2, 1, 1, 53, 70), Is.Not.EqualTo(group), "query bit 4 is in the counter");
            Assert.That(dropout.GroupOf(2, 1, 1, 37, 102), Is.Not.EqualTo(group), "key bit 5 is in the counter");
        });
    }

    [Test]
    public void KeptBitsAgreeWithTheBytesAtEveryThreshold()
    {
        // random groups plus words whose bytes sit at the edges (0, 255, the thresholds themselves)
        var random = new Random(5);
        var groups = Enumerable.Range(0, 64).Select(_ => new PhiloxBlock((uint)random.NextInt64(), (uint)random.NextInt64(), (uint)random.NextInt64(),
            (uint)random.NextInt64())).Concat([new PhiloxBlock(0, uint.MaxValue, 0x01FF_00FEu, 0x807F_8180u)]).ToList();
        Assert.Multiple(() =>
        {
            foreach (uint threshold in new uint[] { 1, 2, 26, 127, 128, 129, 254, 255 })
                foreach (var group in groups)
                {
                    for (int keyBit0 = 0; keyBit0 < 2; keyBit0++)
                    {
                        uint half = Dropout.KeptBitsWithKeyBit0(group, threshold, keyBit0);
                        Assert.That(half >> 8, Is.Zero, "8 bits");
                        for (int index = keyBit0; index < 16; index += 2)
                            Assert.That(Dropout.KeptIn(half, index >> 1), Is.EqualTo(Dropout.Kept(group, index, threshold)),
                                $"threshold {threshold}, entry {index}, key bit 0 = {keyBit0}");
                    }
                }
        });
    }

    [TestCase(0.1f)]
    [TestCase(0.5f)]
    public void KeptFractionIsOneMinusPWithinHalfAPercent(float probability)
    {
        var dropout = new Dropout(probability, seed: 0xFEED_F00D_1234, offset: 42);
        long kept = 0, total = 0;
        for (int b = 0; b < 2; b++)
            for (int h = 0; h < 2; h++)
                for (int i = 0; i < 256; i++)
                    for (int j = 0; j < 256; j++, total++)
                        kept += dropout.Keep(2, b, h, i, j) ? 1 : 0;
        Assert.That((double)kept / total, Is.EqualTo(1 - probability).Within(0.005));
    }

    [Test]
    public void ThresholdQuantisesPTo8BitsAndTheScaleFollows()
    {
        Assert.Multiple(() =>
        {
            Assert.That(new Dropout(0.5f, 0, 0).Threshold8, Is.EqualTo(128u));
            Assert.That(new Dropout(0.1f, 0, 0).Threshold8, Is.EqualTo(26u));
            Assert.That(new Dropout(0.1f, 0, 0).EffectiveProbability, Is.EqualTo(26f / 256));
            Assert.That(new Dropout(0.1f, 0, 0).KeptScale, Is.EqualTo(256f / 230), "1/(1 − p'): the kept P's expectation is P");
            Assert.That(new Dropout(0.99999f, 0, 0).Threshold8, Is.EqualTo(255u), "capped: an 8-bit value can still pass");
            Assert.That(new Dropout(Dropout.SmallestProbability, 0, 0).Threshold8, Is.EqualTo(1u), "the smallest p drops");
            Assert.That(new Dropout(0.001f, 0, 0).IsValid, Is.False, "p < 1/512 would drop nothing");
            Assert.That(new Dropout(0f, 0, 0).IsValid, Is.True);
        });
    }
}
