using FlashAttn.Diagnostics;

namespace FlashAttn.Tests.Core;

public class SampledReferenceTests
{
    [TestCase(false, true), TestCase(true, true), TestCase(true, false)]
    public void SampledRowsMatchTheFullReference(bool causal, bool bottomRight)
    {
        var s = new ReferenceAttention.Sizes(2, 7, 5, 4, 2, 8);
        var q = TestDevices.Random(2 * 7 * 4 * 8, 1).Select(x => (double)x).ToArray();
        var k = TestDevices.Random(2 * 5 * 2 * 8, 2).Select(x => (double)x).ToArray();
        var v = TestDevices.Random(2 * 5 * 2 * 8, 3).Select(x => (double)x).ToArray();
        var (o, lse) = ReferenceAttention.Forward(s, q, k, v, 0.4, causal, bottomRight);
        var rows = SampledReference.PickRows(2, 4, 7, 20);
        Assert.That(rows, Has.Count.EqualTo(20).And.Unique);
        foreach (var row in rows)
        {
            var (output, rowLse) = SampledReference.Row((2, 7, 5, 4, 2, 8), i => q[i], i => k[i], i => v[i], row, 0.4, causal, bottomRight);
            long outBase = (((long)row.Batch * 7 + row.Row) * 4 + row.Head) * 8;
            Assert.That(output, Is.EqualTo(o.Skip((int)outBase).Take(8)).Within(1e-12), row.ToString());
            Assert.That(rowLse, Is.EqualTo(lse[(row.Batch * 4 + row.Head) * 7 + row.Row]).Within(1e-12), row.ToString());
        }
    }
}
