namespace FlashAttn.Tests.Api.Sequences;

/// <summary>
/// Every validation rule of the varlen and KV-cache entry points throws an <see cref="ArgumentException"/> naming the
/// offending argument (KvCacheOptions properties as "cache.KNew" etc.), before anything is written; and int32 tensors
/// are refused as attention inputs everywhere.
/// </summary>
public class SequenceValidationTests
{
    private const int H = 2, D = 8;
    private Device _device = null!;

    [OneTimeSetUp]
    public void Create() => _device = Device.Cpu(1);

    [OneTimeTearDown]
    public void Destroy() => _device.Dispose();

    private DeviceTensor<float> Floats(params int[] shape) => DeviceTensor.Upload<float>(_device,
        Core.TestDevices.Random((int)shape.Aggregate(1L, (a, x) => a * x), shape.Sum()), shape);

    private DeviceTensor<int> Ints(int[] values, params int[] shape) => DeviceTensor.Upload<int>(_device, values, shape);

    private static NUnit.Framework.Constraints.Constraint Names(string param) => Throws.InstanceOf<ArgumentException>().With.Property("ParamName").EqualTo(param);

    [Test]
    public void VarlenRulesNameTheArgument()
    {
        // two sequences: 3 + 4 queries, 5 + 2 keys
        using var q = Floats(7, H, D);
        using var k = Floats(7, 1, D);
        using var v = Floats(7, 1, D);
        using var cuQ = Ints([0, 3, 7], 3);
        using var cuK = Ints([0, 5, 7], 3);
        using var q4 = Floats(1, 7, H, D);
        using var kWide = Floats(7, 1, D + 1);
        using var k3 = Floats(7, 3, D);
        using var vShort = Floats(6, 1, D);
        using var cuLong = Ints([0, 3, 5, 7], 4);
        using var cuNonzero = Ints([1, 3, 7], 3);
        using var cuDecreasing = Ints([0, 5, 3], 3);
        using var cuShortTotal = Ints([0, 3, 6], 3);
        using var qInt = Ints(new int[7 * H * D], 7, H, D);
        using var lseWrong = Floats(7, H);
        using var disposed = Floats(7, H, D);
        disposed.Dispose();
        using var other = Device.Cpu(1);
        using var kOther = DeviceTensor.Zeros<float>(other, 7, 1, D);
        AttentionResult<float> Fwd(DeviceTensor<float> q_, DeviceTensor<float> k_, DeviceTensor<float> v_, DeviceTensor<int> cq, DeviceTensor<int> ck,
            int maxQ = 4, int maxK = 5) => FlashAttention.ForwardVarlen(q_, k_, v_, cq, ck, maxQ, maxK);
        Assert.Multiple(() =>
        {
            Assert.That(() => Fwd(q4, k, v, cuQ, cuK), Names("q").And.Message.Contain("rank 3"));
            Assert.That(() => Fwd(disposed, k, v, cuQ, cuK), Names("q").And.Message.Contain("disposed"));
            Assert.That(() => FlashAttention.ForwardVarlen(qInt, DeviceTensor.Zeros<int>(_device, 7, 1, D), DeviceTensor.Zeros<int>(_device, 7, 1, D), cuQ, cuK, 4, 5),
                Names("q").And.Message.Contain("Int32"));
            Assert.That(() => Fwd(q, kWide, v, cuQ, cuK), Names("k").And.Message.Contain("head_dim"));
            Assert.That(() => Fwd(q, k3, v, cuQ, cuK), Names("k").And.Message.Contain("divide"));
            Assert.That(() => Fwd(q, kOther, v, cuQ, cuK), Names("k").And.Message.Contain("device"));
            Assert.That(() => Fwd(q, k, vShort, cuQ, cuK), Names("v"));
            Assert.That(() => Fwd(q, k, v, null!, cuK), Throws.TypeOf<ArgumentNullException>().With.Property("ParamName").EqualTo("cuSeqlensQ"));
            Assert.That(() => Fwd(q, k, v, cuQ, cuLong), Names("cuSeqlensK").And.Message.Contain("[3]"));
            Assert.That(() => Fwd(q, k, v, cuQ, cuK, maxQ: -1),
                Names("maxSeqlenQ"));
            Assert.That(() => Fwd(q, k, v, cuNonzero, cuK), Names("cuSeqlensQ").And.Message.Contain("must be 0"));
            Assert.That(() => Fwd(q, k, v, cuQ, cuDecreasing), Names("cuSeqlensK").And.Message.Contain("decrease"));
            Assert.That(() => Fwd(q, k, v, cuShortTotal, cuK), Names("cuSeqlensQ").And.Message.Contain("total_q"));
            Assert.That(() => Fwd(q, k, v, cuQ, cuK, maxQ: 3), Names("maxSeqlenQ").And.Message.Contain("4 tokens"));
            // the contents check can be switched off (the kernels clamp; the result is then undefined, but the call runs)
            Assert.That(() => FlashAttention.ForwardVarlen(q, k, v, cuNonzero, cuK, 4, 5, new AttentionOptions { ValidateIndexContents = false }).Dispose(),
                Throws.Nothing);
            using var forward = FlashAttention.ForwardVarlen(q, k, v, cuQ, cuK, 4, 5, new AttentionOptions { ReturnLse = true });
            Assert.That(() => FlashAttention.BackwardVarlen(q, q, k, v, forward.Output, lseWrong, cuQ, cuK, 4, 5, AttentionOptions.Default),
                Names("lse").And.Message.Contain("(heads_q, total_q)"));
            Assert.That(() => FlashAttention.BackwardVarlen(q4, q, k, v, forward.Output, forward.Lse!, cuQ, cuK, 4, 5, AttentionOptions.Default),
                Names("dOut"));
            Assert.That(() => FlashAttention.BackwardVarlen(q, q, k, v, forward.Output, forward.Lse!, cuQ, cuK, 4, 5, null!),
                Throws.TypeOf<ArgumentNullException>().With.Property("ParamName").EqualTo("options"));
        });
    }

    [Test]
    public void KvCacheRulesNameTheArgument()
    {
        // two sequences, one query each; contiguous cache of 3 rows × 32 keys; paged pool of 4 pages of 16
        using var q = Floats(2, 1, H, D);
        using var kc = Floats(3, 32, 1, D);
        using var vc = Floats(3, 32, 1, D);
        using var seqlens = Ints([4, 30], 2);
        using var kNew = Floats(2, 2, 1, D);
        using var vNew = Floats(2, 2, 1, D);
        using var kNewWide = Floats(2, 40, 1, D);
        using var kNewHeads = Floats(2, 2, 2, D);
        using var batchIndex = Ints([2, 0], 2);
        using var batchIndexBad = Ints([2, 3], 2);
        using var seqlensLong = Ints([4, 30, 1], 3);
        using var seqlensNegative = Ints([-1, 3], 2);
        using var seqlensFull = Ints([4, 31], 2);
        using var pages = Floats(4, 16, 1, D);
        using var pagesOdd = Floats(4, 24, 1, D);
        using var pagesSmall = Floats(4, 8, 1, D);
        using var blockTable = Ints([3, 1, 0, 2], 2, 2);
        using var blockTableBad = Ints([3, 1, 0, 9], 2, 2); // sequence 1 (30 keys) uses both of its pages
        using var blockTableRank1 = Ints([3, 1, 0, 2], 4);
        using var kcMismatch = Floats(3, 32, 3, D);
        AttentionResult<float> Call(DeviceTensor<float> kCache, DeviceTensor<float> vCache, DeviceTensor<int> lengths, KvCacheOptions<float>? cache = null,
            AttentionOptions? options = null) => FlashAttention.ForwardWithKvCache(q, kCache, vCache, lengths, cache, options);
        Assert.Multiple(() =>
        {
            Assert.That(() => FlashAttention.ForwardWithKvCache(Floats(2, H, D), kc, vc, seqlens), Names("q").And.Message.Contain("rank 4"));
            Assert.That(() => Call(kcMismatch, vc, seqlens), Names("kCache").And.Message.Contain("divide"));
            Assert.That(() => Call(kc, pages, seqlens), Names("vCache"));
            Assert.That(() => Call(kc, vc, seqlensLong), Names("cacheSeqlens").And.Message.Contain("(batch)"));
            Assert.That(() => Call(kc, vc, seqlens, new() { KNew = kNew }), Names("cache.VNew").And.Message.Contain("both or neither"));
            Assert.That(() => Call(kc, vc, seqlens, new() { VNew = vNew }), Names("cache.KNew"));
            Assert.That(() => Call(kc, vc, seqlens, new() { KNew = kNewHeads, VNew = kNewHeads }), Names("cache.KNew").And.Message.Contain("heads"));
            Assert.That(() => Call(kc, vc, seqlens, new() { KNew = kNewWide, VNew = kNewWide }), Names("cache.KNew").And.Message.Contain("capacity of 32"));
            Assert.That(() => Call(kc, vc, seqlens, new() { KNew = kNew, VNew = kNewWide }), Names("cache.VNew"));
            Assert.That(() => Call(pages, pages, seqlens, new() { BlockTable = blockTable, CacheBatchIndex = batchIndex }), Names("cache.CacheBatchIndex"));
            Assert.That(() => Call(pagesOdd, pagesOdd, seqlens, new() { BlockTable = blockTable }), Names("kCache").And.Message.Contain("power of two"));
            Assert.That(() => Call(pagesSmall, pagesSmall, seqlens, new() { BlockTable = blockTable }), Names("kCache").And.Message.Contain("≥ 16"));
            Assert.That(() => Call(pages, pages, seqlens, new() { BlockTable = blockTableRank1 }), Names("cache.BlockTable").And.Message.Contain("rank 2"));
            Assert.That(() => Call(kc, vc, seqlens, new() { Splits = -1 }), Names("cache.Splits"));
            Assert.That(() => Call(kc, vc, seqlens, null, new AttentionOptions { Causal = true, CausalAlignment = CausalAlignment.TopLeft }),
                Names("options"));
            // contents
            Assert.That(() => Call(kc, vc, seqlensNegative), Names("cacheSeqlens").And.Message.Contain("at least 0"));
            Assert.That(() => Call(kc, vc, seqlensFull, new() { KNew = kNew, VNew = vNew, CacheBatchIndex = batchIndex }), Names("cacheSeqlens").And.Message.Contain("31 + 2"));
            Assert.That(() => Call(kc, vc, seqlens, new() { CacheBatchIndex = batchIndexBad }), Names("cache.CacheBatchIndex").And.Message.Contain("actual 3"));
            Assert.That(() => Call(pages, pages, seqlens, new() { BlockTable = blockTableBad }), Names("cache.BlockTable").And.Message.Contain("[1, 1]"));
        });
        // nothing was appended by the refused calls
        Assert.That(kc.ToArray(), Is.EqualTo(FloatsValues(3, 32, 1, D)));
    }

    [Test]
    public void Int32TensorsAreRefusedAsAttentionInputs()
    {
        using var qi = DeviceTensor.Zeros<int>(_device, 1, 4, H, D);
        using var ki = DeviceTensor.Zeros<int>(_device, 1, 4, 1, D);
        Assert.Multiple(() =>
        {
            Assert.That(() => FlashAttention.Forward((DeviceTensor)qi, ki, ki, causal: false), Names("q").And.Message.Contain("Int32"));
            Assert.That(() => FlashAttention.Forward(qi, ki, ki), Names("q").And.Message.Contain("Int32"));
            Assert.That(() => FlashAttention.ForwardWithKvCache(qi, ki, ki, DeviceTensor.Zeros<int>(_device, 1)), Names("q").And.Message.Contain("Int32"));
            Assert.That(DeviceTensor.Upload<int>(_device, [1, 2, 3], 3).ToArray(), Is.EqualTo(new[] { 1, 2, 3 }));
            Assert.That(DeviceTensor.Zeros<int>(_device, 2).DType, Is.EqualTo(DType.Int32));
            Assert.That(DeviceTensor.Empty<int>(_device, 2).SizeInBytes, Is.EqualTo(8));
        });
    }

    private static float[] FloatsValues(params int[] shape) => Core.TestDevices.Random((int)shape.Aggregate(1L, (a, x) => a * x), shape.Sum());
}
