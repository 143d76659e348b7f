namespace FlashAttn.Tests.Kernels;

/// <summary>Pins <see cref="Dropout"/>'s random-number mapping: one Philox4x32-10 call per group of 8 entries, one 16-bit half
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
            uint c0 = (uint)(((key >> 4) << 2) | ((key >> 1) & 3)), c1 = (uint)(((query >> 4) << 3) | (query & 7));
            uint c2 = (uint)(batch * headsQ + head), c3 = unchecked((uint)offset), k0 = unchecked((uint)seed), k1 = (uint)(seed >> 32) ^ (uint)(offset >> 32);
            int index = (key & 1) | (((key >> 3) & 1) << 1) | (((query >> 3) & 1) << 2);
            uint word = Philox.Word(c0, c1, c2, c3, k0, k1, index >> 1);
            uint half = (index & 1) == 0 ? word & 0xFFFF : word >> 16;
            uint threshold = (uint)Math.Min(65535, Math.Round(probability * 65536.0));
            Assert.That(dropout.Keep(headsQ, batch, head, query, key), Is.EqualTo(half >= threshold), $"p = {probability}");
        }
    }

    [Test]
    public void TheEightEntriesOfAGroupShareOneCallAndUseDistinctHalves()
    {
        // queries 32 + 5, + 8 × keys 64 + 6, + 1, + 8, + 9: one counter, indices 0…7
        var dropout = new Dropout(0.5f, seed: 99, offset: 7);
        var group = dropout.GroupOf(2, 1, 1, 37, 70);
        var indices = new List<int>();
        foreach (int query in new[] { 37, 45 })
            foreach (int key in new[] { 70, 71, 78, 79 })
            {
                Assert.That(dropout.GroupOf(2, 1, 1, query, key), Is.EqualTo(group), $"({query}, {key})");
                indices.Add(Dropout.IndexInGroup(query, key));
            }
        Assert.Multiple(() =>
        {
            Assert.That(indices, Is.EquivalentTo(Enumerable.Range(0, 8)));
            Assert.That(dropout.GroupOf(2, 1, 1, 36, 70), Is.Not.EqualTo(group), "query bit 0 is in the counter");
            Assert.That(dropout.GroupOf(2, 1, 1, 37, 72), Is.Not.EqualTo(group), "key bit 1 is in the counter");
            Assert.That(dropout.GroupOf(2, 1, 1, 53, 70), Is.Not.EqualTo(group), "query bit 4 is in the counter");
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
    public void ThresholdQuantisesPTo16Bits()
    {
        Assert.Multiple(() =>
        {
            Assert.That(new Dropout(0.5f, 0, 0).Threshold16, Is.EqualTo(32768u));
            Assert.That(new Dropout(0.1f, 0, 0).Threshold16, Is.EqualTo(6554u));
            Assert.That(new Dropout(0.99999f, 0, 0).Threshold16, Is.EqualTo(65535u), "capped: a 16-bit value can still pass");
        });
    }
}
