using System.Runtime.InteropServices;
using static FlashAttn.Tests.Api.Sequences.SequenceTestSupport;

namespace FlashAttn.Tests.Api.Sequences;

/// <summary>
/// A KV cache of more than 2³¹ elements: the sequence reads cache entry 2, whose rows start past element 2³¹, so every
/// offset into it needs 64 bits (views, the kernels' index arithmetic, the CPU path's). The cache is one caller-owned
/// allocation of 6 GiB that is never touched but for the rows used (the OS maps the rest lazily), wrapped as K and V.
/// The result must equal the same call on a small cache holding just those rows.
/// </summary>
public unsafe class LargeCacheTests
{
    private const int Entries = 3, Capacity = (1 << 24) + 64, HeadDim = 64, Used = 100, HeadsQ = 2;

    [TestCase(SequenceDevice.Cpu)]
    [TestCase(SequenceDevice.Emulator)]
    public void ACachePastTwoToThe31ElementsIsAddressedWith64BitOffsets(SequenceDevice where)
    {
        long elements = (long)Entries * Capacity * HeadDim;
        Assert.That(elements, Is.GreaterThan(int.MaxValue));
        var random = new Random(61);
        float[] rows = [.. Enumerable.Range(0, Used * HeadDim).Select(_ => (float)(random.NextDouble() * 2 - 1))];
        float[] query = [.. Enumerable.Range(0, HeadsQ * HeadDim).Select(_ => (float)(random.NextDouble() * 2 - 1))];
        var cache = (Half*)NativeMemory.AlignedAlloc((nuint)(elements * sizeof(Half)), 256);
        try
        {
            long first = 2L * Capacity * HeadDim; // entry 2, past element 2³¹
            Assert.That(first, Is.GreaterThan(int.MaxValue));
            for (int i = 0; i < rows.Length; i++) cache[first + i] = (Half)rows[i];

            using var device = Create(where);
            using var q = Upload<Half>(device, query, 1, 1, HeadsQ, HeadDim);
            using var seqlens = DeviceTensor.Upload<int>(device, [Used], 1);
            using var big = DeviceTensor.Wrap<Half>(device, (nint)cache, Entries, Capacity, 1, HeadDim);
            using var entry = DeviceTensor.Upload<int>(device, [2], 1);
            using var fromBig = FlashAttention.ForwardWithKvCache(q, big, big, seqlens, new KvCacheOptions<Half> { CacheBatchIndex = entry });

            using var small = Upload<Half>(device, rows, 1, Used, 1, HeadDim);
            using var fromSmall = FlashAttention.ForwardWithKvCache(q, small, small, seqlens);
            float[] expected = Array.ConvertAll(fromSmall.Output.ToArray(), x => (float)x);
            float[] actual = Array.ConvertAll(fromBig.Output.ToArray(), x => (float)x);
            // the same rows; only the split of the key range may differ (it follows the cache's capacity)
            Assert.That(actual, Is.EqualTo(expected).Within(2e-3f));
            Assert.That(actual.Any(x => x != 0f), "the big cache's rows were read");
        }
        finally
        {
            NativeMemory.AlignedFree(cache);
        }
    }
}
