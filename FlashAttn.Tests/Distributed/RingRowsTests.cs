using FlashAttn.Kernels;

namespace FlashAttn.Tests.Distributed;

/// <summary>The ring's element-wise kernels (run on the emulator) and their host loops give the same bits, against a
/// plain computation over the slice, for both layouts and a slice in the middle of the shard.</summary>
[TestFixture]
public class RingRowsTests
{
    [Test]
    public void KernelsAndHostLoopsAgreeWithThePlainComputation([Values] AttentionLayout layout)
    {
        const int batch = 2, length = 10, heads = 3, d = 5, start = 4, count = 3;
        var slice = new RowSlice(batch, length, heads, d, layout, start, count);
        var random = new Random(3);
        float[] Random(long n) => Enumerable.Range(0, (int)n).Select(_ => (float)random.NextDouble() * 4 - 2).ToArray();
        float[] whole = Random(slice.WholeElements), sum = Random(slice.WholeElements), part = Random(slice.Elements);
        float[] lse = Random(batch * heads * length), partLse = Random(batch * heads * count);
        partLse[1] = float.PositiveInfinity; // a row the block saw no key of
        lse[0] = float.NegativeInfinity;

        using var device = Device.CpuEmulator();
        var results = new List<(float[] Gathered, float[] Sum, float[] Merged, float[] Lse, Half[] Stored)>();
        foreach (bool onHost in new[] { false, true })
        {
            using var wholeT = DeviceTensor.Upload<float>(device, whole, whole.Length);
            using var gathered = DeviceTensor.Zeros<float>(device, part.Length);
            using var sumT = DeviceTensor.Upload<float>(device, sum, sum.Length);
            using var partT = DeviceTensor.Upload<float>(device, part, part.Length);
            using var mergedT = DeviceTensor.Upload<float>(device, sum, sum.Length);
            using var lseT = DeviceTensor.Upload<float>(device, lse, lse.Length);
            using var partLseT = DeviceTensor.Upload<float>(device, partLse, partLse.Length);
            using var stored = DeviceTensor.Zeros<Half>(device, sum.Length);
            if (onHost)
            {
                RingRowsOnHost.GatherRows(wholeT.View, gathered.View, slice);
                RingRowsOnHost.AccumulateRows(partT.View, sumT.View, slice);
                RingRowsOnHost.MergeRows(partT.View, partLseT.View, mergedT.View, lseT.View, slice);
                RingRowsOnHost.StoreRows(sumT.View, stored.View);
            }
            else
            {
                AttentionLauncher.GatherRows(device.Accelerator, wholeT.View, gathered.View, slice);
                AttentionLauncher.AccumulateRows(device.Accelerator, partT.View, sumT.View, slice);
                AttentionLauncher.MergeRows(device.Accelerator, partT.View, partLseT.View, mergedT.View, lseT.View, slice);
                AttentionLauncher.StoreRows(device.Accelerator, sumT.View, stored.View);
            }
            results.Add((gathered.ToArray(), sumT.ToArray(), mergedT.ToArray(), lseT.ToArray(), stored.ToArray()));
        }
        Assert.That(results[1].Gathered, Is.EqualTo(results[0].Gathered));
        Assert.That(results[1].Sum, Is.EqualTo(results[0].Sum));
        Assert.That(results[1].Merged, Is.EqualTo(results[0].Merged));
        Assert.That(results[1].Lse, Is.EqualTo(results[0].Lse));
        Assert.That(results[1].Stored, Is.EqualTo(results[0].Stored));

        // the plain computation, position by position
        var (g, s2, m, l) = (results[0].Gathered, results[0].Sum, results[0].Merged, results[0].Lse);
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < length; i++)
                {
                    int row = (b * heads + h) * length + i;
                    bool inside = i >= start && i < start + count;
                    int partRow = (b * heads + h) * count + (i - start);
                    float expectedLse = inside ? LseMerge.Merge(lse[row], partLse[partRow], out _, out _) : lse[row];
                    Assert.That(l[row], Is.EqualTo(expectedLse), $"lse ({b}, {h}, {i})");
                    for (int x = 0; x < d; x++)
                    {
                        long w = layout.RowStart(length, heads, d, b, i, h) + x;
                        if (!inside)
                        {
                            Assert.That((s2[w], m[w]), Is.EqualTo((sum[w], sum[w])), $"outside the slice ({b}, {i}, {h}, {x})");
                            continue;
                        }
                        long p = layout.RowStart(count, heads, d, b, i - start, h) + x;
                        Assert.That(g[p], Is.EqualTo(whole[w]), "gathered");
                        Assert.That(s2[w], Is.EqualTo(sum[w] + part[p]), "accumulated");
                        LseMerge.Merge(lse[row], partLse[partRow], out float keep, out float add);
                        Assert.That(m[w], Is.EqualTo(keep * sum[w] + add * part[p]).Within(1e-6f), "merged");
                    }
                }
    }
}
