using FlashAttn;

namespace FlashAttn.Tests.Core;

/// <summary>The README's usage example, verbatim but for the data, must compile and run.</summary>
public class ReadmeExampleTests
{
    [Test]
    public void ReadmeExampleRuns()
    {
        int batch = 1, seqLen = 33, heads = 4, kvHeads = 2, headDim = 24;
        var random = new Random(7);
        float[] Random(int n) => Enumerable.Range(0, n).Select(_ => random.NextSingle() - 0.5f).ToArray();
        float[] qData = Random(batch * seqLen * heads * headDim);
        float[] kData = Random(batch * seqLen * kvHeads * headDim), vData = Random(batch * seqLen * kvHeads * headDim);

        using var device = Device.Cpu();
        using var q = DeviceTensor.Upload(device, qData, batch, seqLen, heads, headDim);   // (b, s, h, d)
        using var k = DeviceTensor.Upload(device, kData, batch, seqLen, kvHeads, headDim);
        using var v = DeviceTensor.Upload(device, vData, batch, seqLen, kvHeads, headDim);
        using var output = FlashAttention.Forward(q, k, v, causal: true);
        float[] result = output.ToArray();

        Assert.That(result, Has.Length.EqualTo(qData.Length));
        Assert.That(result.All(float.IsFinite));
        // Row 0 of a causal attention sees only key 0: the output is v[0] of its kv head.
        for (int d = 0; d < headDim; d++)
            Assert.That(result[d], Is.EqualTo(vData[d]).Within(1e-6));
    }

    /// <summary>The README's context-parallel snippet on 2 virtual ranks: each rank's shard of the output is its rows of
    /// the single-device output.</summary>
    [Test]
    public void ReadmeContextParallelExampleRuns()
    {
        int batch = 1, seqLen = 24, heads = 2, headDim = 8, ranks = 2;
        using var device = Device.Cpu(1);
        float[] qData = TestDevices.Random(batch * seqLen * heads * headDim, 1), kData = TestDevices.Random(qData.Length, 2),
            vData = TestDevices.Random(qData.Length, 3);
        float[] Rows(float[] data, int[] positions) => FlashAttn.Distributed.SequenceShards.Gather<float>(data, positions, batch, heads, headDim);
        var groups = FlashAttn.Distributed.InProcessGroup.Create(device, ranks);
        var shards = new float[ranks][];
        var threads = Enumerable.Range(0, ranks).Select(r => new Thread(() =>
        {
            var parallel = new FlashAttn.Distributed.ContextParallel(groups[r]);
            int[] positions = parallel.LocalPositions(seqLen);
            using var qShard = DeviceTensor.Upload(device, FlashAttn.Distributed.SequenceShards.Gather<float>(qData, positions, batch, heads, headDim),
                batch, positions.Length, heads, headDim);                  // kShard, vShard, dOutShard alike
            int local = positions.Length;
            using var kShard = DeviceTensor.Upload(device, Rows(kData, positions), batch, local, heads, headDim);
            using var vShard = DeviceTensor.Upload(device, Rows(vData, positions), batch, local, heads, headDim);
            using var dOutShard = DeviceTensor.Upload(device, Rows(vData, positions), batch, local, heads, headDim);
            using var shard = FlashAttention.Forward(qShard, kShard, vShard, new AttentionOptions { Causal = true, ReturnLse = true }, parallel);
            using var shardGrads = FlashAttention.Backward(dOutShard, qShard, kShard, vShard, shard.Output, shard.Lse!,
                new AttentionOptions { Causal = true }, parallel);
            shards[r] = shard.Output.ToArray();
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.That(t.Join(TimeSpan.FromMinutes(2)));

        using var q = DeviceTensor.Upload(device, qData, batch, seqLen, heads, headDim);
        using var k = DeviceTensor.Upload(device, kData, batch, seqLen, heads, headDim);
        using var v = DeviceTensor.Upload(device, vData, batch, seqLen, heads, headDim);
        using var whole = FlashAttention.Forward(q, k, v, causal: true);
        float[] expected = whole.ToArray();
        for (int r = 0; r < ranks; r++)
            Assert.That(shards[r], Is.EqualTo(Rows(expected, FlashAttn.Distributed.ContextParallel.Positions(seqLen, r, ranks,
                FlashAttn.Distributed.SequenceSharding.ZigZag))).Within(1e-5f), $"rank {r}");
    }

    [Test]
    public void ReadmeTrainingExampleRuns()
    {
        int batch = 1, seqLen = 17, heads = 4, kvHeads = 2, headDim = 16;
        float[] Random(int n, int seed) => TestDevices.Random(n, seed);
        using var device = Device.Cpu();
        using var q = DeviceTensor.Upload(device, Random(batch * seqLen * heads * headDim, 1), batch, seqLen, heads, headDim);
        using var k = DeviceTensor.Upload(device, Random(batch * seqLen * kvHeads * headDim, 2), batch, seqLen, kvHeads, headDim);
        using var v = DeviceTensor.Upload(device, Random(batch * seqLen * kvHeads * headDim, 3), batch, seqLen, kvHeads, headDim);
        using var dOut = DeviceTensor.Upload(device, Random(batch * seqLen * heads * headDim, 4), batch, seqLen, heads, headDim);

        using var attention = FlashAttention.ForwardForTraining(q, k, v, new AttentionOptions { Causal = true });
        // attention.Output (b, s_q, h_q, d), attention.Lse (b, h_q, s_q)
        using var grads = attention.Backward(dOut);                // grads.DQ like q, grads.DK and grads.DV like k

        Assert.Multiple(() =>
        {
            Assert.That(attention.Lse.Shape.ToArray(), Is.EqualTo(new[] { batch, heads, seqLen }));
            Assert.That(grads.DK.Shape.ToArray(), Is.EqualTo(k.Shape.ToArray()));
            Assert.That(grads.DQ.ToArray().All(float.IsFinite));
        });
    }

    [Test]
    public void ReadmeLayoutExampleRuns()
    {
        int batch = 2, seqLen = 19, heads = 4, kvHeads = 2, headDim = 16;
        float[] qData = TestDevices.Random(batch * seqLen * heads * headDim, 1);
        float[] kData = TestDevices.Random(batch * seqLen * kvHeads * headDim, 2), vData = TestDevices.Random(kData.Length, 3);
        using var device = Device.Cpu();

        var torchLayout = new AttentionOptions { Layout = AttentionLayout.BatchHeadSeqDim, Causal = true };
        using var qh = DeviceTensor.Upload(device, qData, batch, heads, seqLen, headDim);   // (b, h, s, d)
        using var kh = DeviceTensor.Upload(device, kData, batch, kvHeads, seqLen, headDim);
        using var vh = DeviceTensor.Upload(device, vData, batch, kvHeads, seqLen, headDim);
        using var step = FlashAttention.ForwardForTraining(qh, kh, vh, torchLayout);      // step.Output (b, h, s, d)

        Assert.Multiple(() =>
        {
            Assert.That(step.Output.GetShape(), Is.EqualTo(AttentionLayout.BatchHeadSeqDim.Shape(batch, seqLen, heads, headDim)));
            // row 0 of head 0 sees only key 0 of kv head 0: the output is v[0, 0, 0]
            Assert.That(step.Output.ToArray().AsSpan(0, headDim).ToArray(), Is.EqualTo(vData.AsSpan(0, headDim).ToArray()).Within(1e-6f));
        });
    }

    /// <summary>The README's user score modifier: a per-head bias table by relative position.</summary>
    private readonly struct MyBias(global::FlashAttn.Compute.ArrayView<float> table) : IScoreModifier
    {
        public global::FlashAttn.Compute.ArrayView<float> Table { get; } = table;
        public float Apply(float score, ScorePosition at) => score + Table[at.Head * 9 + Math.Clamp(at.Key - at.Query, -4, 4) + 4];
        public float Derivative(float score, ScorePosition at) => 1f;
    }

    /// <summary>The README's user mask modifier: keys of the query's document.</summary>
    private readonly struct MyMask(global::FlashAttn.Compute.ArrayView<int> documents) : IMaskModifier
    {
        public global::FlashAttn.Compute.ArrayView<int> Documents { get; } = documents;
        public bool Visible(ScorePosition at) => Documents[at.Query] == Documents[at.Key];
    }

    [Test]
    public void ReadmeInferenceAndVariantsExampleRuns()
    {
        using var device = Device.Cpu();
        const int heads = 4, kvHeads = 2, headDim = 16, seqLen = 40;
        Half[] Random(int n, int seed) => [.. TestDevices.Random(n, seed).Select(x => (Half)x)];
        int[] cuValues = [0, 15, 15, 40];
        int maxSeqlenQ = 25, maxSeqlenK = 25;
        using var q = DeviceTensor.Upload<Half>(device, Random(40 * heads * headDim, 1), 40, heads, headDim);
        using var k = DeviceTensor.Upload<Half>(device, Random(40 * kvHeads * headDim, 2), 40, kvHeads, headDim);
        using var v = DeviceTensor.Upload<Half>(device, Random(40 * kvHeads * headDim, 3), 40, kvHeads, headDim);
        using var cuSeqlens = DeviceTensor.Upload<int>(device, cuValues, cuValues.Length);
        using var o = FlashAttention.ForwardVarlen(q, k, v, cuSeqlens, cuSeqlens, maxSeqlenQ, maxSeqlenK, new AttentionOptions { Causal = true });
        Assert.That(o.Output.ToArray().Select(x => (float)x), Has.All.Not.NaN);

        using var q1 = DeviceTensor.Upload<Half>(device, Random(2 * heads * headDim, 4), 2, 1, heads, headDim);
        using var kCache = DeviceTensor.Upload<Half>(device, Random(4 * 16 * kvHeads * headDim, 5), 4, 16, kvHeads, headDim);   // 4 pages of 16
        using var vCache = DeviceTensor.Upload<Half>(device, Random(4 * 16 * kvHeads * headDim, 6), 4, 16, kvHeads, headDim);
        using var cacheSeqlens = DeviceTensor.Upload<int>(device, [20, 7], 2);
        using var blockTable = DeviceTensor.Upload<int>(device, [3, 0, 1, 2], 2, 2);
        using var kNew = DeviceTensor.Upload<Half>(device, Random(2 * kvHeads * headDim, 7), 2, 1, kvHeads, headDim);
        using var vNew = DeviceTensor.Upload<Half>(device, Random(2 * kvHeads * headDim, 8), 2, 1, kvHeads, headDim);
        using var step = FlashAttention.ForwardWithKvCache(q1, kCache, vCache, cacheSeqlens,
            new KvCacheOptions<Half> { KNew = kNew, VNew = vNew, BlockTable = blockTable });
        Assert.That(step.Output.ToArray().Select(x => (float)x), Has.All.Not.NaN);

        using var qd = DeviceTensor.Upload<Half>(device, Random(seqLen * heads * headDim, 9), 1, seqLen, heads, headDim);
        using var kd = DeviceTensor.Upload<Half>(device, Random(seqLen * kvHeads * headDim, 10), 1, seqLen, kvHeads, headDim);
        using var vd = DeviceTensor.Upload<Half>(device, Random(seqLen * kvHeads * headDim, 11), 1, seqLen, kvHeads, headDim);
        using var table = DeviceTensor.Upload<float>(device, [.. Enumerable.Range(0, heads * 9).Select(i => 0.01f * i)], heads * 9);
        using var docs = DeviceTensor.Upload<int>(device, [.. Enumerable.Range(0, seqLen).Select(i => i / 20)], seqLen);
        ulong seed = 42, offset = 0;
        var options = new AttentionOptions { Causal = true, WindowLeft = 4096, Softcap = 30f, Dropout = new Dropout(0.1f, seed, offset) };
        using var biased = FlashAttention.Forward(qd, kd, vd, new AttentionModifiers<MyBias, MyMask>(new MyBias(table.View), new MyMask(docs.View)), options);
        Assert.That(biased.Output.ToArray().Select(x => (float)x), Has.All.Not.NaN);
    }
}
