using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Kernels;
using FlashAttn.Kernels.Reference;
using FlashAttn.Tests.Support;
using static FlashAttn.Tests.Support.DeviceBuffers;

namespace FlashAttn.Tests.Kernels;

/// <summary>
/// The GPU kernels on the sequence kinds of issue 13 (varlen forward and backward, KV cache with appended keys, paged
/// caches, GQA packing, split-KV), through <see cref="AttentionLauncher"/> on the test accelerator, against
/// <see cref="SequenceReference"/> with the table's budget rule (a multiple of the naive same-dtype error, per sequence).
/// </summary>
[TestFixture]
public class SequenceKernelTests : TestAcceleratorFixture
{
    public static IEnumerable<TestCaseData> VarlenCases()
    {
        // mixed lengths with an empty sequence, a sequence without keys, one shorter than a tile and one across tiles
        yield return Varlen([37, 0, 130, 5], [61, 9, 140, 0], 2, 2, 64, AttentionDtype.Fp16, causal: true, bottomRight: true, seed: 1);
        yield return Varlen([70, 1, 3], [33, 90, 3], 4, 2, 40, AttentionDtype.Bf16, causal: true, bottomRight: false, seed: 2);
        yield return Varlen([19, 66], [100, 17], 3, 1, 59, AttentionDtype.Fp32, causal: false, bottomRight: true, seed: 3);
        yield return Varlen([64, 7, 41], [64, 80, 41], 2, 1, 32, AttentionDtype.Fp32, causal: true, bottomRight: true, seed: 4);
        yield return Varlen([23, 150], [23, 150], 2, 2, 128, AttentionDtype.Fp16, causal: false, bottomRight: true, seed: 5);
        // fp32 (FFMA kernels): top-left causal with more queries than keys across two Q tiles; the deterministic dQ pass with
        // GQA (gradients through the convert pass), a sequence without queries and one without keys
        yield return Varlen([80, 3, 41], [30, 20, 41], 2, 2, 64, AttentionDtype.Fp32, causal: true, bottomRight: false, seed: 6);
        yield return Varlen([70, 0, 25], [100, 12, 25], 4, 2, 48, AttentionDtype.Fp32, causal: true, bottomRight: true, seed: 7, deterministic: true);
        yield return Varlen([33, 12, 65], [0, 70, 65], 2, 1, 59, AttentionDtype.Fp32, causal: false, bottomRight: true, seed: 8, deterministic: true);
        // sliding windows, per sequence around its own diagonal: FFMA (fp32) and tensor cores (fp16)
        yield return Varlen([70, 5, 40], [100, 30, 20], 2, 1, 40, AttentionDtype.Fp32, causal: true, bottomRight: true, seed: 9, window: (12, -1));
        yield return Varlen([70, 5, 40], [100, 30, 20], 2, 2, 32, AttentionDtype.Fp16, causal: false, bottomRight: false, seed: 10, window: (6, 3));
    }

    private static TestCaseData Varlen(int[] qLens, int[] kLens, int hq, int hkv, int d, AttentionDtype dtype, bool causal, bool bottomRight, int seed,
        bool deterministic = false, (int Left, int Right)? window = null)
        => new TestCaseData(qLens, kLens, hq, hkv, d, dtype, causal, bottomRight, deterministic, seed, window ?? (-1, -1))
            .SetName($"Varlen(q[{string.Join(",", qLens)}] k[{string.Join(",", kLens)}] h{hq}/{hkv} d{d} {dtype}" +
                $"{(causal ? bottomRight ? " causal-br" : " causal-tl" : "")}{(deterministic ? " deterministic" : "")}" +
                $"{(window is { } w ? $" window({w.Left},{w.Right}){(bottomRight ? "-br" : "-tl")}" : "")})");

    [TestCaseSource(nameof(VarlenCases))]
    public void VarlenMatchesReference(int[] qLens, int[] kLens, int hq, int hkv, int d, AttentionDtype dtype, bool causal, bool bottomRight,
        bool deterministic, int seed, (int Left, int Right) window)
        => CheckVarlen(qLens, kLens, hq, hkv, d, dtype, causal, bottomRight, deterministic, seed, default(AttentionModifiers<NoScoreModifier, NoMaskModifier>),
            window);

    [Test]
    public void VarlenWithSoftcap()
        => CheckVarlen([37, 0, 90], [61, 9, 70], 4, 2, 64, AttentionDtype.Fp16, true, true, false, 21,
            new AttentionModifiers<Softcap, NoMaskModifier>(new Softcap(0.5f), default));

    [Test]
    public void Fp32VarlenWithAlibiPerSequenceAndDropout()
    {
        // the FFMA kernels: ALiBi slopes and the dropout mask keyed by the sequence's index, positions within it
        using var slopes = UploadShared(_accelerator, new[] { 0.5f, 0.25f, 0.125f, 0.0625f, 0.03125f, 0.015625f });
        CheckVarlen([37, 0, 50], [61, 9, 40], 2, 1, 32, AttentionDtype.Fp32, true, true, false, 24,
            new AttentionModifiers<Alibi, NoMaskModifier>(new Alibi(slopes.View, 2, perBatch: true), default),
            dropout: new Dropout(0.2f, seed: 11, offset: 3));
    }

    [Test]
    public void KvCacheDecodeWithAlibi()
    {
        using var slopes = UploadShared(_accelerator, new[] { 0.5f, 0.25f, 0.125f, 0.0625f, 0.03125f, 0.015625f, 0.0078125f, 0.00390625f });
        var modifiers = new AttentionModifiers<Alibi, NoMaskModifier>(new Alibi(slopes.View, 8, perBatch: false), default);
        CheckKvCache([100, 7, 150], 1, 1, 8, 2, 64, AttentionDtype.Bf16, 32, batchIndex: false, splits: 2, seed: 22, modifiers);
        CheckKvCache([60, 90], 9, 9, 8, 2, 64, AttentionDtype.Fp16, 0, batchIndex: true, splits: 0, seed: 23, modifiers);
    }

    private void CheckVarlen<TScore, TMask>(int[] qLens, int[] kLens, int hq, int hkv, int d, AttentionDtype dtype, bool causal, bool bottomRight,
        bool deterministic, int seed, AttentionModifiers<TScore, TMask> modifiers, (int Left, int Right)? window = null, Dropout dropout = default)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        int[] cuQ = Cumulative(qLens), cuK = Cumulative(kLens);
        var shape = new VarlenShape(qLens.Length, cuQ[^1], cuK[^1], qLens.Max(), kLens.Max(), hq, hkv, d);
        var settings = new AttentionSettings(1f / MathF.Sqrt(d), causal, bottomRight, deterministic, window?.Left ?? -1, window?.Right ?? -1, dropout);
        var mods = ReferenceModifiers.Of(modifiers, settings, hq);
        var data = new Inputs(dtype, seed);
        float[] q = data.Random((long)shape.TotalQ * hq * d), k = data.Random((long)shape.TotalK * hkv * d), v = data.Random(k.Length);
        float[] dOut = data.Random(q.Length);

        var ours = Run(dtype, new VarlenRunner<TScore, TMask>(_accelerator, shape, settings, modifiers, cuQ, cuK, q, k, v, dOut));
        var reference = (O: new double[q.Length], L: new double[(long)hq * shape.TotalQ], Dq: new double[q.Length], Dk: new double[k.Length], Dv: new double[k.Length]);
        SequenceReference.ForwardVarlen(shape, settings, cuQ, cuK, Widen(q), Widen(k), Widen(v), reference.O, reference.L, mods);
        SequenceReference.BackwardVarlen(shape, settings, cuQ, cuK, Widen(q), Widen(k), Widen(v), Widen(dOut), reference.Dq, reference.Dk, reference.Dv, mods);
        var naive = NaiveVarlen(shape, settings, cuQ, cuK, data.Round, q, k, v, dOut, mods);

        AttentionKernelTests.Check("O", ours.O, naive.O, reference.O, AttentionKernelTests.ForwardFactor);
        AttentionKernelTests.Check("L", ours.L, naive.L, reference.L, AttentionKernelTests.ForwardFactor);
        AttentionKernelTests.Check("dQ", ours.Dq, naive.Dq, reference.Dq, AttentionKernelTests.GradientFactor);
        AttentionKernelTests.Check("dK", ours.Dk, naive.Dk, reference.Dk, AttentionKernelTests.GradientFactor);
        AttentionKernelTests.Check("dV", ours.Dv, naive.Dv, reference.Dv, AttentionKernelTests.GradientFactor);
    }

    public static IEnumerable<TestCaseData> KvCacheCases()
    {
        // (cached lengths, s_q, s_new, h_q/h_kv, d, dtype, page size (0 contiguous), batch index, splits)
        yield return KvCache([100, 0, 37], 1, 1, 8, 2, 64, AttentionDtype.Fp16, 0, batchIndex: false, splits: 0, seed: 11);
        yield return KvCache([130, 3], 1, 0, 4, 1, 128, AttentionDtype.Bf16, 0, batchIndex: true, splits: 3, seed: 12);
        yield return KvCache([70, 150, 0], 1, 2, 4, 2, 64, AttentionDtype.Fp16, 64, batchIndex: false, splits: 2, seed: 13);
        yield return KvCache([45, 90], 5, 5, 2, 2, 32, AttentionDtype.Bf16, 16, batchIndex: false, splits: 1, seed: 14);
        yield return KvCache([33, 120], 3, 3, 6, 2, 40, AttentionDtype.Fp16, 32, batchIndex: false, splits: 4, seed: 15);
        // more splits than one step of the combine (8) and not a multiple of it, many of them empty; d = 40: the second
        // column warp of a row has 8 columns
        yield return KvCache([700, 0, 37], 1, 1, 8, 2, 40, AttentionDtype.Fp16, 0, batchIndex: false, splits: 11, seed: 24);
        yield return KvCache([900, 260], 2, 1, 4, 4, 128, AttentionDtype.Bf16, 64, batchIndex: true, splits: 19, seed: 25);
        // more than 16 packed rows: the general tensor-core forward instead of the decoding kernel
        yield return KvCache([50, 20], 9, 4, 8, 2, 64, AttentionDtype.Fp16, 32, batchIndex: false, splits: 2, seed: 18);
        yield return KvCache([10, 90], 70, 70, 2, 1, 32, AttentionDtype.Bf16, 0, batchIndex: true, splits: 0, seed: 19);
        yield return KvCache([200], 1, 1, 2, 1, 256, AttentionDtype.Fp16, 128, batchIndex: false, splits: 0, seed: 20);
        yield return KvCache([60, 2], 2, 1, 4, 2, 48, AttentionDtype.Fp32, 0, batchIndex: true, splits: 0, seed: 16);
        yield return KvCache([40, 77], 1, 1, 2, 1, 32, AttentionDtype.Fp32, 16, batchIndex: false, splits: 0, seed: 17);
        // fp32 (FFMA kernels, Bc = 64 for d ≤ 128, 32 above): pages of a whole block, of several blocks (d 160), of a
        // quarter block with d not a multiple of 4; a batch index with d 59 and several queries
        yield return KvCache([70, 150, 0], 3, 2, 4, 2, 64, AttentionDtype.Fp32, 64, batchIndex: false, splits: 0, seed: 18);
        yield return KvCache([50, 100], 2, 1, 2, 1, 160, AttentionDtype.Fp32, 64, batchIndex: false, splits: 0, seed: 19);
        yield return KvCache([45, 90], 5, 5, 2, 2, 59, AttentionDtype.Fp32, 16, batchIndex: false, splits: 0, seed: 20);
        yield return KvCache([100, 0, 37], 4, 1, 6, 3, 59, AttentionDtype.Fp32, 0, batchIndex: true, splits: 0, seed: 21);
        // a causal sliding window of 20 keys: the decoding kernel split over the window's blocks (fp16), FFMA paged (fp32)
        yield return KvCache([150, 8, 70], 1, 1, 4, 2, 64, AttentionDtype.Fp16, 0, batchIndex: false, splits: 3, seed: 22, windowLeft: 20);
        yield return KvCache([150, 8, 70], 3, 2, 2, 1, 48, AttentionDtype.Fp32, 32, batchIndex: false, splits: 0, seed: 23, windowLeft: 20);
    }

    private static TestCaseData KvCache(int[] cached, int sq, int sNew, int hq, int hkv, int d, AttentionDtype dtype, int pageSize,
        bool batchIndex, int splits, int seed, int windowLeft = -1)
        => new TestCaseData(cached, sq, sNew, hq, hkv, d, dtype, pageSize, batchIndex, splits, seed, windowLeft)
            .SetName($"KvCache(cached[{string.Join(",", cached)}] sq{sq} new{sNew} h{hq}/{hkv} d{d} {dtype} " +
                $"{(pageSize > 0 ? $"paged{pageSize}" : "contiguous")}{(batchIndex ? " indexed" : "")} splits{splits}" +
                $"{(windowLeft >= 0 ? $" window({windowLeft},0)" : "")})");

    [TestCaseSource(nameof(KvCacheCases))]
    public void KvCacheMatchesReference(int[] cached, int sq, int sNew, int hq, int hkv, int d, AttentionDtype dtype, int pageSize,
        bool batchIndex, int splits, int seed, int windowLeft)
        => CheckKvCache(cached, sq, sNew, hq, hkv, d, dtype, pageSize, batchIndex, splits, seed, default(AttentionModifiers<NoScoreModifier, NoMaskModifier>),
            windowLeft);

    private void CheckKvCache<TScore, TMask>(int[] cached, int sq, int sNew, int hq, int hkv, int d, AttentionDtype dtype, int pageSize,
        bool batchIndex, int splits, int seed, AttentionModifiers<TScore, TMask> modifiers, int windowLeft = -1)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var mods = ReferenceModifiers.Of(modifiers);
        int batch = cached.Length, longest = cached.Max() + sNew;
        var data = new Inputs(dtype, seed);
        var random = new Random(seed);
        KvCacheShape shape;
        int[]? index = null, table = null;
        if (pageSize > 0)
        {
            // pages of every sequence in a shuffled pool, with one spare page
            int blocks = (longest + pageSize - 1) / pageSize, pages = batch * blocks + 1;
            var order = Enumerable.Range(0, pages).OrderBy(_ => random.Next()).ToArray();
            table = order.Take(batch * blocks).ToArray();
            shape = new KvCacheShape(batch, sq, hq, hkv, d, pages, pageSize, true, blocks, sNew);
        }
        else
        {
            int entries = batch + 1, capacity = longest + 3;
            if (batchIndex) index = Enumerable.Range(0, entries).OrderBy(_ => random.Next()).Take(batch).ToArray();
            shape = new KvCacheShape(batch, sq, hq, hkv, d, entries, capacity, false, 0, sNew);
        }
        var settings = new AttentionSettings(1f / MathF.Sqrt(d), Causal: true, CausalBottomRight: true, WindowLeft: windowLeft);
        long cacheElements = (long)shape.CacheEntries * shape.CacheLength * hkv * d;
        float[] q = data.Random((long)batch * sq * hq * d), kCache = data.Random(cacheElements), vCache = data.Random(cacheElements);
        float[] kNew = data.Random((long)batch * sNew * hkv * d), vNew = data.Random(kNew.Length);

        var runner = new KvCacheRunner<TScore, TMask>(_accelerator, shape, settings, splits, modifiers, cached, index, table, q, kCache, vCache, kNew, vNew);
        var ours = Run(dtype, runner);

        // the reference appends first, as the call does; the cache the kernels left must hold the same
        double[] kRef = Widen(kCache), vRef = Widen(vCache);
        SequenceReference.Append(shape, cached, index, table, kRef, vRef, Widen(kNew), Widen(vNew));
        Assert.That(ours.Dk, Is.EqualTo(kRef), "k cache after the append");
        Assert.That(ours.Dv, Is.EqualTo(vRef), "v cache after the append");
        var reference = (O: new double[q.Length], L: new double[(long)batch * hq * sq]);
        SequenceReference.ForwardKvCache(shape, settings, cached, index, table, Widen(q), kRef, vRef, reference.O, reference.L, mods);
        var naive = NaiveKvCache(shape, settings, cached, index, table, data.Round, q, kRef, vRef, mods);
        AttentionKernelTests.Check("O", ours.O, naive.O, reference.O, AttentionKernelTests.ForwardFactor);
        AttentionKernelTests.Check("L", ours.L, naive.L, reference.L, AttentionKernelTests.ForwardFactor);
    }

    [Test]
    public void SplitHeuristicSplitsOnlyWhenTheGroupsLeaveBandwidthUnused()
    {
        Assert.Multiple(() =>
        {
            Assert.That(AttentionLauncher.KvCacheSplits(groups: 1 * 8, keyBlocks: 2048, multiprocessors: 132), Is.GreaterThan(8), "b1 h_kv8 128k");
            Assert.That(AttentionLauncher.KvCacheSplits(groups: 64 * 8, keyBlocks: 512, multiprocessors: 132), Is.EqualTo(1), "b64 h_kv8 fills the SMs");
            Assert.That(AttentionLauncher.KvCacheSplits(groups: 8, keyBlocks: 1, multiprocessors: 132), Is.EqualTo(1), "one key block");
            Assert.That(AttentionLauncher.KvCacheSplits(groups: 16, keyBlocks: 3, multiprocessors: 132), Is.EqualTo(1), "too few blocks to split");
            Assert.That(AttentionLauncher.KvCacheSplits(groups: 8, keyBlocks: 64, multiprocessors: 132), Is.LessThanOrEqualTo(16), "b1 4k: at least 4 blocks per split");
            Assert.That(AttentionLauncher.KvCacheSplits(groups: 16 * 8, keyBlocks: 512, multiprocessors: 132), Is.EqualTo(2), "b16 h_kv8: two groups per SM");
            Assert.That(AttentionLauncher.KvCacheSplits(groups: 1 * 8, keyBlocks: 2048, multiprocessors: 132) * 8, Is.GreaterThanOrEqualTo(200), "b1 128k: about two groups per SM");
        });
    }

    // ---------------- running the kernels ----------------

    private sealed record Results(double[] O, double[] L, double[] Dq, double[] Dk, double[] Dv);

    private interface IRunner
    {
        Results Run<T>(Func<float, T> narrow, Func<T, float> widen) where T : unmanaged;
    }

    private static Results Run(AttentionDtype dtype, IRunner runner) => dtype switch
    {
        AttentionDtype.Fp16 => runner.Run<Half>(x => (Half)x, x => (float)x),
        AttentionDtype.Bf16 => runner.Run<BFloat16>(x => (BFloat16)x, x => x),
        _ => runner.Run<float>(x => x, x => x),
    };

    private sealed class VarlenRunner<TScore, TMask>(Accelerator accelerator, VarlenShape shape, AttentionSettings settings,
        AttentionModifiers<TScore, TMask> modifiers, int[] cuQ, int[] cuK, float[] q, float[] k, float[] v, float[] dOut) : IRunner
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        public Results Run<T>(Func<float, T> narrow, Func<T, float> widen) where T : unmanaged
        {
            using var cuQBuffer = Upload(accelerator, cuQ);
            using var cuKBuffer = Upload(accelerator, cuK);
            using var qb = Upload(accelerator, q, narrow);
            using var kb = Upload(accelerator, k, narrow);
            using var vb = Upload(accelerator, v, narrow);
            using var dOutBuffer = Upload(accelerator, dOut, narrow);
            using var output = accelerator.Allocate<T>(q.Length);
            using var lse = accelerator.Allocate<float>((long)shape.HeadsQ * shape.TotalQ);
            using var dq = accelerator.Allocate<T>(q.Length);
            using var dk = accelerator.Allocate<T>(k.Length);
            using var dv = accelerator.Allocate<T>(k.Length);
            AttentionLauncher.ForwardVarlen(accelerator, shape, settings, modifiers, qb.View, kb.View, vb.View, cuQBuffer.View, cuKBuffer.View, output.View, lse.View);
            AttentionLauncher.BackwardVarlen(accelerator, shape, settings, modifiers, qb.View, kb.View, vb.View, output.View, dOutBuffer.View, lse.View,
                cuQBuffer.View, cuKBuffer.View, dq.View, dk.View, dv.View);
            return new Results(Download(output, widen), Download(lse, x => x), Download(dq, widen), Download(dk, widen), Download(dv, widen));
        }
    }

    /// <summary>Runs a KV-cache call; returns O, L and (in Dk, Dv) the caches after the call.</summary>
    private sealed class KvCacheRunner<TScore, TMask>(Accelerator accelerator, KvCacheShape shape, AttentionSettings settings, int splits,
        AttentionModifiers<TScore, TMask> modifiers, int[] cached,
        int[]? index, int[]? table, float[] q, float[] kCache, float[] vCache, float[] kNew, float[] vNew) : IRunner
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        public Results Run<T>(Func<float, T> narrow, Func<T, float> widen) where T : unmanaged
        {
            using var seqlens = Upload(accelerator, cached);
            using var indexBuffer = index is null ? null : Upload(accelerator, index);
            using var tableBuffer = table is null ? null : Upload(accelerator, table);
            using var qb = Upload(accelerator, q, narrow);
            using var kc = Upload(accelerator, kCache, narrow);
            using var vc = Upload(accelerator, vCache, narrow);
            using var kn = kNew.Length == 0 ? null : Upload(accelerator, kNew, narrow);
            using var vn = vNew.Length == 0 ? null : Upload(accelerator, vNew, narrow);
            using var output = accelerator.Allocate<T>(q.Length);
            using var lse = accelerator.Allocate<float>((long)shape.Batch * shape.HeadsQ * shape.SeqLenQ);
            var cacheIndex = new KvCacheIndex(seqlens.View, indexBuffer?.View ?? default, tableBuffer?.View ?? default);
            AttentionLauncher.ForwardKvCache(accelerator, shape, settings, splits, modifiers, qb.View, kc.View, vc.View, kn?.View ?? default, vn?.View ?? default,
                cacheIndex, output.View, lse.View);
            return new Results(Download(output, widen), Download(lse, x => x), [], Download(kc, widen), Download(vc, widen));
        }
    }

    // ---------------- the naive same-dtype budget, per sequence ----------------

    private static Results NaiveVarlen(VarlenShape shape, AttentionSettings settings, int[] cuQ, int[] cuK, Func<float, float> round,
        float[] q, float[] k, float[] v, float[] dOut, ReferenceModifiers? modifiers = null)
    {
        int hq = shape.HeadsQ, hkv = shape.HeadsKV, d = shape.HeadDim;
        var r = new Results(new double[q.Length], new double[(long)hq * shape.TotalQ], new double[q.Length], new double[k.Length], new double[k.Length]);
        for (int i = 0; i < shape.Sequences; i++)
        {
            int qs = cuQ[i], sq = cuQ[i + 1] - qs, ks = cuK[i], sk = cuK[i + 1] - ks;
            if (sq == 0) continue;
            var dense = new AttentionShape(1, sq, sk, hq, hkv, d);
            float[] o = new float[sq * hq * d], l = new float[hq * sq], gq = new float[o.Length], gk = new float[sk * hkv * d], gv = new float[gk.Length];
            NaiveAttention.Run(dense, settings, round, Slice(q, qs * hq * d, o.Length), Slice(k, ks * hkv * d, gk.Length), Slice(v, ks * hkv * d, gk.Length),
                Slice(dOut, qs * hq * d, o.Length), o, l, gq, gk, gv, modifiers?.ForSequence(i));
            Place(o, r.O, qs * hq * d);
            Place(gq, r.Dq, qs * hq * d);
            Place(gk, r.Dk, ks * hkv * d);
            Place(gv, r.Dv, ks * hkv * d);
            for (int h = 0; h < hq; h++)
                for (int row = 0; row < sq; row++) r.L[(long)h * shape.TotalQ + qs + row] = l[h * sq + row];
        }
        return r;
    }

    private static Results NaiveKvCache(KvCacheShape shape, AttentionSettings settings, int[] cached, int[]? index, int[]? table,
        Func<float, float> round, float[] q, double[] kCache, double[] vCache, ReferenceModifiers? modifiers = null)
    {
        int hq = shape.HeadsQ, hkv = shape.HeadsKV, d = shape.HeadDim, sq = shape.SeqLenQ, rowElements = hkv * d;
        var r = new Results(new double[q.Length], new double[(long)shape.Batch * hq * sq], [], [], []);
        for (int b = 0; b < shape.Batch; b++)
        {
            int keys = cached[b] + shape.NewKeys;
            var dense = new AttentionShape(1, sq, keys, hq, hkv, d);
            float[] kb = new float[keys * rowElements], vb = new float[kb.Length], o = new float[sq * hq * d], l = new float[hq * sq];
            for (int j = 0; j < keys; j++)
            {
                long row = SequenceReference.CacheRow(shape, index, table, b, j) * rowElements;
                for (int x = 0; x < rowElements; x++)
                {
                    kb[j * rowElements + x] = (float)kCache[row + x];
                    vb[j * rowElements + x] = (float)vCache[row + x];
                }
            }
            NaiveAttention.Run(dense, settings, round, Slice(q, b * o.Length, o.Length), kb, vb, null, o, l, null, null, null, modifiers?.ForSequence(b));
            Place(o, r.O, b * o.Length);
            Place(l, r.L, b * l.Length);
        }
        return r;
    }

    // ---------------- helpers ----------------

    /// <summary>Random inputs uniform in ±1.5 (never zero), rounded to the dtype.</summary>
    private sealed class Inputs(AttentionDtype dtype, int seed)
    {
        private readonly Random _random = new(seed);

        public float Round(float x) => dtype switch
        {
            AttentionDtype.Fp16 => (float)(Half)x,
            AttentionDtype.Bf16 => (BFloat16)x,
            _ => x,
        };

        public float[] Random(long n)
        {
            var a = new float[n];
            for (long i = 0; i < n; i++)
            {
                float x = (float)(_random.NextDouble() * 3 - 1.5);
                a[i] = Round(MathF.Abs(x) < 1e-3f ? 0.25f : x);
            }
            return a;
        }
    }

    private static int[] Cumulative(int[] lengths)
    {
        var cu = new int[lengths.Length + 1];
        for (int i = 0; i < lengths.Length; i++) cu[i + 1] = cu[i] + lengths[i];
        return cu;
    }

    private static float[] Slice(float[] a, long first, long length) => a.AsSpan((int)first, (int)length).ToArray();

    private static void Place(float[] values, double[] target, long first)
    {
        for (int i = 0; i < values.Length; i++) target[first + i] = values[i];
    }
}
