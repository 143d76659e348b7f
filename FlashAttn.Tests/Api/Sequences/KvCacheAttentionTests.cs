using FlashAttn.Kernels;
using FlashAttn.Kernels.Reference;
using FlashAttn.Tests.Kernels;
using static FlashAttn.Tests.Api.Sequences.SequenceTestSupport;

namespace FlashAttn.Tests.Api.Sequences;

/// <summary>
/// <see cref="FlashAttention.ForwardWithKvCache{T}"/> against <see cref="SequenceReference"/> (append, then attend):
/// contiguous caches with and without new keys, a sequence with an empty cache, a batch index, paged caches of page
/// size 16 and 64 with pages out of order, decoding (s_q = 1) and causal chunks (s_q &gt; 1); every dtype; on the CPU
/// path and on the GPU kernels run by the emulator. The cache after the call must equal the reference's append exactly.
/// </summary>
public class KvCacheAttentionTests
{
    /// <summary>
    /// A KV-cache case. <see cref="CacheEntries"/>: cache rows (contiguous) or pages; <see cref="CacheLength"/>: s_cache or
    /// the page size; <see cref="BlockTable"/> (b × max_blocks, row-major) makes it paged.
    /// </summary>
    public sealed record KvCacheCase(string Name, SequenceDevice Device, AttentionDtype Dtype, int SeqLenQ, int HeadsQ, int HeadsKV, int HeadDim,
        int CacheEntries, int CacheLength, int[] CacheSeqlens, int NewKeys, bool Causal, int[]? BatchIndex = null, int[]? BlockTable = null,
        int WindowLeft = -1, int WindowRight = -1, Fp32Math Fp32Math = Fp32Math.Exact)
    {
        public int Batch => CacheSeqlens.Length;
        public int BlocksPerSequence => BlockTable is null ? 0 : BlockTable.Length / Batch;
        public KvCacheShape Shape => new(Batch, SeqLenQ, HeadsQ, HeadsKV, HeadDim, CacheEntries, CacheLength, BlockTable is not null, BlocksPerSequence, NewKeys);
        public override string ToString() => $"{Name} {Device} {Dtype}" + (Fp32Math == Fp32Math.TensorCores ? " 3xtf32" : "");
    }

    private static IEnumerable<KvCacheCase> Layouts(SequenceDevice device, int headDim)
    {
        // decoding, nothing appended; sequence 1's cache is empty (no keys at all)
        yield return new("contiguous-decode", device, default, 1, 4, 2, headDim, 3, 48, [5, 0, 37], 0, Causal: true);
        // chunk of 3 queries and 3 new keys into rows chosen by a batch index; sequence 1 starts from an empty cache
        yield return new("contiguous-append-batchindex", device, default, 3, 4, 2, headDim, 4, 40, [10, 0, 20], 3, Causal: true, BatchIndex: [2, 0, 3]);
        // paged, page size 16, pages out of order, 4 causal queries, 2 new keys
        yield return new("paged16-append", device, default, 4, 4, 2, headDim, 9, 16, [20, 33], 2, Causal: true,
            BlockTable: [7, 2, 5, 0, 1, 8, 3, 6]);
        // paged, page size 64, decoding one appended key, no mask
        yield return new("paged64-decode", device, default, 1, 3, 1, headDim, 5, 64, [70, 5], 1, Causal: false, BlockTable: [3, 1, 4, 0]);
        // sliding windows: causal local attention over the last 9 keys; a two-sided window (4, 2) without causal
        yield return new("contiguous-window-causal", device, default, 3, 4, 2, headDim, 3, 80, [70, 2, 40], 2, Causal: true, WindowLeft: 9);
        yield return new("paged16-window", device, default, 4, 4, 2, headDim, 9, 16, [20, 33], 2, Causal: false,
            BlockTable: [7, 2, 5, 0, 1, 8, 3, 6], WindowLeft: 4, WindowRight: 2);
    }

    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (var dtype in new[] { AttentionDtype.Fp32, AttentionDtype.Fp16, AttentionDtype.Bf16 })
            foreach (var c in Layouts(SequenceDevice.Cpu, 40))
                yield return new TestCaseData(c with { Dtype = dtype }).SetName($"KvCache({c with { Dtype = dtype }})");
        int n = 0;
        foreach (var c in Layouts(SequenceDevice.Emulator, 16))
        {
            var rotated = c with { Dtype = (AttentionDtype)(n++ % 3) };
            yield return new TestCaseData(rotated).SetName($"KvCache({rotated})");
        }
        // fp32 on the tensor cores (3×TF32): the decode kernel (≤ 16 packed rows), contiguous and paged
        foreach (var c in Layouts(SequenceDevice.Emulator, 32).Where(c => c.Name is "contiguous-decode" or "paged16-append"))
        {
            var split = c with { Dtype = AttentionDtype.Fp32, Fp32Math = Fp32Math.TensorCores };
            yield return new TestCaseData(split).SetName($"KvCache({split})");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void AppendsThenAttendsLikeReference(KvCacheCase c)
    {
        switch (c.Dtype)
        {
            case AttentionDtype.Fp16: Run<Half>(c); break;
            case AttentionDtype.Bf16: Run<BFloat16>(c); break;
            default: Run<float>(c); break;
        }
    }

    private static void Run<T>(KvCacheCase c) where T : unmanaged
    {
        var shape = c.Shape;
        var random = new Random(29 + c.CacheLength);
        int[] qShape = [c.Batch, c.SeqLenQ, c.HeadsQ, c.HeadDim], cacheShape = [c.CacheEntries, c.CacheLength, c.HeadsKV, c.HeadDim],
            newShape = [c.Batch, c.NewKeys, c.HeadsKV, c.HeadDim];
        float[] q = Random(random, qShape.Aggregate(1L, (a, x) => a * x), c.Dtype);
        float[] kCache = Random(random, cacheShape.Aggregate(1L, (a, x) => a * x), c.Dtype), vCache = Random(random, kCache.Length, c.Dtype);
        float[] kNew = Random(random, newShape.Aggregate(1L, (a, x) => a * x), c.Dtype), vNew = Random(random, kNew.Length, c.Dtype);
        var options = new AttentionOptions { Causal = c.Causal, ReturnLse = true, WindowLeft = c.WindowLeft, WindowRight = c.WindowRight,
            Fp32Math = c.Fp32Math };
        var settings = new AttentionSettings(options.ResolveScale(c.HeadDim), c.Causal, CausalBottomRight: true,
            WindowLeft: c.WindowLeft, WindowRight: c.WindowRight);

        using var device = Create(c.Device);
        using var qt = Upload<T>(device, q, qShape);
        using var kc = Upload<T>(device, kCache, cacheShape);
        using var vc = Upload<T>(device, vCache, cacheShape);
        using var kn = c.NewKeys > 0 ? Upload<T>(device, kNew, newShape) : null;
        using var vn = c.NewKeys > 0 ? Upload<T>(device, vNew, newShape) : null;
        using var seqlens = DeviceTensor.Upload<int>(device, c.CacheSeqlens, c.Batch);
        using var batchIndex = c.BatchIndex is null ? null : DeviceTensor.Upload<int>(device, c.BatchIndex, c.Batch);
        using var blockTable = c.BlockTable is null ? null : DeviceTensor.Upload<int>(device, c.BlockTable, c.Batch, c.BlocksPerSequence);
        var cache = new KvCacheOptions<T> { KNew = kn, VNew = vn, CacheBatchIndex = batchIndex, BlockTable = blockTable };
        using var result = FlashAttention.ForwardWithKvCache(qt, kc, vc, seqlens, cache, options);

        // reference: append, then attend over the appended cache
        double[] kExpected = Widen(kCache), vExpected = Widen(vCache);
        SequenceReference.Append(shape, c.CacheSeqlens, c.BatchIndex, c.BlockTable, kExpected, vExpected, Widen(kNew), Widen(vNew));
        var (o, lse) = (new double[q.Length], new double[(long)c.Batch * c.HeadsQ * c.SeqLenQ]);
        SequenceReference.ForwardKvCache(shape, settings, c.CacheSeqlens, c.BatchIndex, c.BlockTable, Widen(q), kExpected, vExpected, o, lse);
        var naive = NaiveKvCache(shape, settings, x => Round(c.Dtype, x), c.CacheSeqlens, c.BatchIndex, c.BlockTable, q,
            Array.ConvertAll(kExpected, x => (float)x), Array.ConvertAll(vExpected, x => (float)x));

        Assert.Multiple(() =>
        {
            Assert.That(Download(kc), Is.EqualTo(kExpected), "kCache after the append");
            Assert.That(Download(vc), Is.EqualTo(vExpected), "vCache after the append");
            Assert.That(result.Lse!.GetShape(), Is.EqualTo(new[] { c.Batch, c.HeadsQ, c.SeqLenQ }));
            Check("O", Download(result.Output), naive.O, o, gradient: false);
            Check("L", Download(result.Lse!), naive.Lse, lse, gradient: false);
        });
    }
}
