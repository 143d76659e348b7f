using FlashAttn.Distributed;
using FlashAttn.Kernels;

namespace FlashAttn.Tests.Distributed;

/// <summary>The ring's blocks and the sharding's positions, checked against the global mask pair by pair.</summary>
[TestFixture]
public class RingScheduleTests
{
    /// <summary>Over all steps, each rank's blocks cover exactly the (query, key) pairs the global mask shows, each once.</summary>
    [Test]
    public void BlocksCoverEveryVisiblePairExactlyOnce(
        [Values(1, 2, 3, 4, 8)] int ranks, [Values] SequenceSharding sharding, [Values] bool causal)
    {
        int chunk = 3, length = chunk * ranks * (sharding == SequenceSharding.ZigZag ? 2 : 1), local = length / ranks;
        var positions = Enumerable.Range(0, ranks).Select(r => ContextParallel.Positions(length, r, ranks, sharding)).ToArray();
        Assert.That(positions.SelectMany(p => p).Order(), Is.EqualTo(Enumerable.Range(0, length)), "the shards partition the sequence");
        for (int rank = 0; rank < ranks; rank++)
        {
            var seen = new int[length, length];
            for (int step = 0; step < ranks; step++)
            {
                int source = RingSchedule.Source(rank, step, ranks);
                var block = RingSchedule.Block(sharding, causal, rank, source, local);
                if (step == 0)
                    Assert.That(block, Is.EqualTo(new RingBlock(0, local, 0, local, causal)), "step 0 is the rank's own shard, whole");
                if (block is not { } b) continue;
                for (int i = b.QueryStart; i < b.QueryStart + b.QueryCount; i++)
                    for (int j = b.KeyStart; j < b.KeyStart + b.KeyCount; j++)
                        if (!b.Causal || j <= i) seen[positions[rank][i], positions[source][j]]++;
            }
            foreach (int i in positions[rank])
                for (int j = 0; j < length; j++)
                    Assert.That(seen[i, j], Is.EqualTo(!causal || j <= i ? 1 : 0), $"rank {rank}: query {i}, key {j}");
        }
    }

    /// <summary>Zig-zag gives every rank the same causal work.</summary>
    [Test]
    public void ZigZagBalancesCausalWork([Values(2, 4, 8)] int ranks)
    {
        int local = 16;
        var work = Enumerable.Range(0, ranks).Select(rank => Enumerable.Range(0, ranks)
            .Select(step => RingSchedule.Block(SequenceSharding.ZigZag, true, rank, RingSchedule.Source(rank, step, ranks), local))
            .Sum(b => b is { } x ? (long)x.QueryCount * x.KeyCount / (x.Causal ? 2 : 1) : 0)).ToArray();
        Assert.That(work.Distinct().Count(), Is.EqualTo(1), string.Join(", ", work));
    }

    [Test]
    public void PositionsRejectLengthsThatDoNotSplit()
    {
        Assert.That(() => ContextParallel.Positions(30, 0, 4, SequenceSharding.ZigZag),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("globalLength"));
        Assert.That(() => ContextParallel.Positions(8, 4, 4, SequenceSharding.Contiguous),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("rank"));
        Assert.That(ContextParallel.Positions(8, 1, 2, SequenceSharding.ZigZag), Is.EqualTo(new[] { 2, 3, 4, 5 }));
    }

    /// <summary>Sharding host arrays: the shards' rows are the global rows at their positions, and scattering them back
    /// restores the array, in both layouts; bad sizes and positions are named.</summary>
    [Test]
    public void SequenceShardsGatherAndScatterRowsByPosition([Values] AttentionLayout layout)
    {
        const int batch = 2, length = 12, heads = 3, d = 4, ranks = 3;
        var global = Enumerable.Range(0, batch * length * heads * d).Select(i => (float)i).ToArray();
        var restored = new float[global.Length];
        for (int rank = 0; rank < ranks; rank++)
        {
            int[] positions = ContextParallel.Positions(length, rank, ranks, SequenceSharding.ZigZag);
            var shard = SequenceShards.Gather<float>(global, positions, batch, heads, d, layout);
            for (int b = 0; b < batch; b++)
                for (int i = 0; i < positions.Length; i++)
                    for (int h = 0; h < heads; h++)
                        Assert.That(shard[layout.RowStart(positions.Length, heads, d, b, i, h) + 1],
                            Is.EqualTo(global[layout.RowStart(length, heads, d, b, positions[i], h) + 1]));
            SequenceShards.Scatter<float>(shard, restored, positions, batch, heads, d, layout);
        }
        Assert.That(restored, Is.EqualTo(global));
        Assert.That(() => SequenceShards.Gather<float>(global, [length], batch, heads, d, layout),
            Throws.ArgumentException.With.Property("ParamName").EqualTo("positions"));
        Assert.That(() => SequenceShards.Gather<float>(global.AsSpan(1).ToArray(), [0], batch, heads, d, layout),
            Throws.ArgumentException.With.Property("ParamName").EqualTo("global"));
        Assert.That(() => SequenceShards.Scatter<float>(new float[5], restored, [0], batch, heads, d, layout),
            Throws.ArgumentException.With.Property("ParamName").EqualTo("shard"));
    }

    /// <summary>The log-sum-exp merge, including parts that saw no key (−∞, or +∞ as an attention call reports it) and NaN.</summary>
    [Test]
    public void LseMergeWeighsPartsByTheirLogSumExp()
    {
        float merged = LseMerge.Merge(MathF.Log(3f), MathF.Log(1f), out float a, out float b);
        Assert.That((merged, a, b), Is.EqualTo((MathF.Log(4f), 0.75f, 0.25f)).Within(1e-6f));
        Assert.That(LseMerge.Merge(float.NegativeInfinity, 2f, out a, out b), Is.EqualTo(2f));
        Assert.That((a, b), Is.EqualTo((0f, 1f)));
        Assert.That(LseMerge.Merge(1.5f, float.PositiveInfinity, out a, out b), Is.EqualTo(1.5f));
        Assert.That((a, b), Is.EqualTo((1f, 0f)));
        Assert.That(LseMerge.Merge(float.NegativeInfinity, float.NegativeInfinity, out a, out b), Is.EqualTo(float.NegativeInfinity));
        Assert.That((a, b), Is.EqualTo((0f, 0f)));
        Assert.That(float.IsNaN(LseMerge.Merge(float.NaN, 0f, out _, out _)));
        Assert.That(LseMerge.Merge(80f, -80f, out a, out b), Is.EqualTo(80f).Within(1e-5f), "no overflow far apart");
    }
}
