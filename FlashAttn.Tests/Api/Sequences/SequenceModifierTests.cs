using FlashAttn.Kernels;
using FlashAttn.Kernels.Reference;
using FlashAttn.Tests.Kernels;
using static FlashAttn.Tests.Api.Sequences.SequenceTestSupport;

namespace FlashAttn.Tests.Api.Sequences;

/// <summary>
/// Modifiers and dropout in varlen and KV-cache calls (issue 14): each sequence's index is the modifiers' batch and its
/// positions are within the sequence; against the fp64 sequence references with the same modifiers, on the CPU path
/// and the emulated GPU kernels (fp16/bf16 there).
/// </summary>
public class SequenceModifierTests
{
    private static readonly int[] LengthsQ = [13, 0, 29, 7], LengthsK = [21, 5, 29, 1];

    [TestCase(SequenceDevice.Cpu, AttentionDtype.Fp32)]
    [TestCase(SequenceDevice.Cpu, AttentionDtype.Bf16)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp16)]
    public void VarlenSoftcapAlibiPrefixMaskAndDropout(SequenceDevice where, AttentionDtype dtype)
    {
        switch (dtype)
        {
            case AttentionDtype.Fp16: Varlen<Half>(where, dtype); break;
            case AttentionDtype.Bf16: Varlen<BFloat16>(where, dtype); break;
            default: Varlen<float>(where, dtype); break;
        }
    }

    private static void Varlen<T>(SequenceDevice where, AttentionDtype dtype) where T : unmanaged
    {
        const int heads = 2, headsKv = 1, headDim = 16;
        int[] cuQ = Cumulative(LengthsQ), cuK = Cumulative(LengthsK);
        var shape = new VarlenShape(LengthsQ.Length, cuQ[^1], cuK[^1], LengthsQ.Max(), LengthsK.Max(), heads, headsKv, headDim);
        var random = new Random(17);
        float[] q = Random(random, (long)shape.TotalQ * heads * headDim, dtype), k = Random(random, (long)shape.TotalK * headsKv * headDim, dtype);
        float[] v = Random(random, k.Length, dtype), dOut = Random(random, q.Length, dtype);
        using var device = Create(where);
        using var slopes = DeviceTensor.Upload<float>(device, [0.5f, 0.25f, 0.125f, 0.0625f, 0.3f, 0.2f, 0.1f, 0.05f], LengthsQ.Length, heads);
        using var prefixes = DeviceTensor.Upload<int>(device, [4, 0, 10, 1], LengthsQ.Length);
        var dropout = new Dropout(0.25f, seed: 99, offset: 7);
        var options = new AttentionOptions { Softcap = 0.9f, AlibiSlopes = slopes, Dropout = dropout, ReturnLse = true };
        var user = new AttentionModifiers<NoScoreModifier, PrefixLmMask>(default, new PrefixLmMask(prefixes.View));
        var settings = new AttentionSettings(options.ResolveScale(headDim), Causal: false, Dropout: dropout);
        var expected = new AttentionModifiers<ComposedScoreModifier<Softcap, Alibi>, PrefixLmMask>(
            new(new Softcap(0.9f), new Alibi(slopes.View, heads, perBatch: true)), user.Mask);
        var reference = ReferenceModifiers.Of(expected, settings, heads);

        using var qt = Upload<T>(device, q, shape.TotalQ, heads, headDim);
        using var kt = Upload<T>(device, k, shape.TotalK, headsKv, headDim);
        using var vt = Upload<T>(device, v, shape.TotalK, headsKv, headDim);
        using var dOutT = Upload<T>(device, dOut, shape.TotalQ, heads, headDim);
        using var cuQt = DeviceTensor.Upload<int>(device, cuQ, cuQ.Length);
        using var cuKt = DeviceTensor.Upload<int>(device, cuK, cuK.Length);
        using var forward = FlashAttention.ForwardVarlen(qt, kt, vt, cuQt, cuKt, shape.MaxSeqLenQ, shape.MaxSeqLenK, user, options);
        using var gradients = FlashAttention.BackwardVarlen(dOutT, qt, kt, vt, forward.Output, forward.Lse!, cuQt, cuKt,
            shape.MaxSeqLenQ, shape.MaxSeqLenK, user, options);

        var (o, lse) = (new double[q.Length], new double[(long)heads * shape.TotalQ]);
        var (dq, dk, dv) = (new double[q.Length], new double[k.Length], new double[k.Length]);
        SequenceReference.ForwardVarlen(shape, settings, cuQ, cuK, Widen(q), Widen(k), Widen(v), o, lse, reference);
        SequenceReference.BackwardVarlen(shape, settings, cuQ, cuK, Widen(q), Widen(k), Widen(v), Widen(dOut), dq, dk, dv, reference);
        var naive = NaiveVarlen(shape, settings, x => Round(dtype, x), cuQ, cuK, q, k, v, dOut, reference);
        Assert.Multiple(() =>
        {
            Check("O", Download(forward.Output), naive.O, o, gradient: false);
            Check("L", Download(forward.Lse!), naive.Lse, lse, gradient: false);
            Check("dQ", Download(gradients.DQ), naive.Dq, dq, gradient: true);
            Check("dK", Download(gradients.DK), naive.Dk, dk, gradient: true);
            Check("dV", Download(gradients.DV), naive.Dv, dv, gradient: true);
        });
    }

    [TestCase(SequenceDevice.Cpu, AttentionDtype.Fp32)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Bf16)]
    public void KvCacheSoftcapAlibiAndPrefixMask(SequenceDevice where, AttentionDtype dtype)
    {
        switch (dtype)
        {
            case AttentionDtype.Bf16: KvCache<BFloat16>(where, dtype); break;
            default: KvCache<float>(where, dtype); break;
        }
    }

    private static void KvCache<T>(SequenceDevice where, AttentionDtype dtype) where T : unmanaged
    {
        const int batch = 2, sq = 3, heads = 2, headsKv = 1, headDim = 16, capacity = 40, newKeys = 2;
        int[] cached = [25, 6];
        var shape = new KvCacheShape(batch, sq, heads, headsKv, headDim, batch, capacity, Paged: false, BlocksPerSequence: 0, newKeys);
        var random = new Random(23);
        float[] q = Random(random, batch * sq * heads * headDim, dtype), kCache = Random(random, batch * capacity * headsKv * headDim, dtype);
        float[] vCache = Random(random, kCache.Length, dtype);
        float[] kNew = Random(random, batch * newKeys * headsKv * headDim, dtype), vNew = Random(random, kNew.Length, dtype);
        using var device = Create(where);
        using var slopes = DeviceTensor.Upload<float>(device, [0.25f, 0.0625f], heads);
        using var prefixes = DeviceTensor.Upload<int>(device, [20, 2], batch);
        var options = new AttentionOptions { Softcap = 0.7f, AlibiSlopes = slopes, Causal = true, ReturnLse = true };
        var user = new AttentionModifiers<NoScoreModifier, PrefixLmMask>(default, new PrefixLmMask(prefixes.View));
        var settings = new AttentionSettings(options.ResolveScale(headDim), Causal: true, CausalBottomRight: true);
        var reference = ReferenceModifiers.Of(new AttentionModifiers<ComposedScoreModifier<Softcap, Alibi>, PrefixLmMask>(
            new(new Softcap(0.7f), new Alibi(slopes.View, heads, perBatch: false)), user.Mask), settings, heads);

        using var qt = Upload<T>(device, q, batch, sq, heads, headDim);
        using var kc = Upload<T>(device, kCache, batch, capacity, headsKv, headDim);
        using var vc = Upload<T>(device, vCache, batch, capacity, headsKv, headDim);
        using var kn = Upload<T>(device, kNew, batch, newKeys, headsKv, headDim);
        using var vn = Upload<T>(device, vNew, batch, newKeys, headsKv, headDim);
        using var seqlens = DeviceTensor.Upload<int>(device, cached, batch);
        using var result = FlashAttention.ForwardWithKvCache(qt, kc, vc, seqlens, user, new KvCacheOptions<T> { KNew = kn, VNew = vn }, options);

        double[] kExpected = Widen(kCache), vExpected = Widen(vCache);
        SequenceReference.Append(shape, cached, null, null, kExpected, vExpected, Widen(kNew), Widen(vNew));
        var (o, lse) = (new double[q.Length], new double[batch * heads * sq]);
        SequenceReference.ForwardKvCache(shape, settings, cached, null, null, Widen(q), kExpected, vExpected, o, lse, reference);
        var naive = NaiveKvCache(shape, settings, x => Round(dtype, x), cached, null, null, q,
            Array.ConvertAll(kExpected, x => (float)x), Array.ConvertAll(vExpected, x => (float)x), reference);
        Assert.Multiple(() =>
        {
            Check("O", Download(result.Output), naive.O, o, gradient: false);
            Check("L", Download(result.Lse!), naive.Lse, lse, gradient: false);
        });
    }
}
