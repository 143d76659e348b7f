using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Kernels;
using FlashAttn.Kernels.Reference;
using FlashAttn.Tests.Support;
using static FlashAttn.Tests.Support.DeviceBuffers;

namespace FlashAttn.Tests.Kernels;

/// <summary>A prefix-LM mask: every query sees the prefix; after it, causal.</summary>
public readonly struct PrefixLmMask(int prefix) : IMaskModifier
{
    public int Prefix { get; } = prefix;

    public bool Visible(ScorePosition at) => at.Key < Prefix || at.Key <= at.Query;
}

/// <summary>Keys from <see cref="Limit"/> on are hidden from every query.</summary>
public readonly struct KeyLimitMask(int limit) : IMaskModifier
{
    public int Limit { get; } = limit;

    public bool Visible(ScorePosition at) => at.Key < Limit;
}

/// <summary>
/// Diagonal stripes of 64 × 64 blocks, 8 empty blocks between visible ones along either axis (each visible block partial:
/// its last 16 keys hidden), and the last key block partly visible to every query: the kernels' block walks meet long
/// leading, inner and trailing runs of empty blocks.
/// </summary>
public readonly struct StripedBlocksMask(int lastKeyBlock) : IMaskModifier
{
    public int LastKeyBlock { get; } = lastKeyBlock;

    public bool Visible(ScorePosition at)
        => ((at.Query / 64 + at.Key / 64) % 9 == 0 && at.Key % 64 < 48) || (at.Key / 64 == LastKeyBlock && at.Query % 3 == 0);
}

/// <summary>
/// Block sparsity (issue 14, part 5): the block mask built on the device from a mask modifier (against a host
/// classification), attention with it equal to attention without it and to the fp64 reference, and empty tiles never
/// read (their values never reach the output).
/// </summary>
[TestFixture]
public class BlockMaskKernelTests : TestAcceleratorFixture
{
    [Test]
    public void BuilderClassifiesEveryBlockAsTheHostDoes()
    {
        var shape = new AttentionShape(2, 150, 200, 2, 1, 32);
        var settings = new AttentionSettings(0.2f, Causal: false);
        int[] documents = [.. Enumerable.Range(0, 200).Select(i => i < 70 ? 0 : i < 130 ? 1 : 2), .. Enumerable.Range(0, 200).Select(i => i < 20 ? 0 : 1)];
        using var docs = UploadShared(_accelerator, documents);
        var mask = new DocumentMask(docs.View, docs.View, 200, 200);
        using var blocks = _accelerator.Allocate<byte>(BlockMask.Elements(shape, perBatch: true, perHead: false));
        var built = AttentionLauncher.BuildBlockMask(_accelerator, shape, settings, mask, blocks.View, perBatch: true, perHead: false);
        byte[] classes = blocks.ToArray();
        for (int b = 0; b < 2; b++)
            for (int qb = 0; qb < built.QueryBlocks; qb++)
                for (int kb = 0; kb < built.KeyBlocks; kb++)
                {
                    bool any = false, all = true;
                    for (int i = qb * 64; i < Math.Min(150, qb * 64 + 64); i++)
                        for (int j = kb * 64; j < Math.Min(200, kb * 64 + 64); j++)
                        {
                            bool visible = documents[b * 200 + i] == documents[b * 200 + j];
                            any |= visible;
                            all &= visible;
                        }
                    byte expected = !any ? BlockMask.Empty : all ? BlockMask.Full : BlockMask.Partial;
                    Assert.That(classes[(b * built.QueryBlocks + qb) * built.KeyBlocks + kb], Is.EqualTo(expected), $"batch {b} block ({qb}, {kb})");
                }
    }

    [TestCase(AttentionDtype.Fp16, true)]
    [TestCase(AttentionDtype.Bf16, false)]
    public void DocumentMaskWithBlocksMatchesWithoutAndTheReference(AttentionDtype dtype, bool causal)
    {
        var c = new AttentionCase(new AttentionShape(2, 230, 230, 4, 2, 64), dtype, causal, BottomRight: true, Deterministic: false, Seed: 41);
        int[] documents = [.. Enumerable.Range(0, 230).Select(i => i < 60 ? 0 : i < 170 ? 1 : 2), .. Enumerable.Range(0, 230).Select(i => i / 100)];
        using var docs = UploadShared(_accelerator, documents);
        var mask = new DocumentMask(docs.View, docs.View, 230, 230);
        using var blocks = _accelerator.Allocate<byte>(BlockMask.Elements(c.Shape, perBatch: true, perHead: false));
        var blockMask = AttentionLauncher.BuildBlockMask(_accelerator, c.Shape, c.Settings, mask, blocks.View, perBatch: true, perHead: false);
        CheckAgainstUnblocked(c, mask, blockMask);
    }

    [Test]
    public void PrefixLmWithBlocksPerHeadMatchesWithout()
    {
        var c = new AttentionCase(new AttentionShape(1, 190, 190, 2, 2, 32), AttentionDtype.Fp16, Causal: false, BottomRight: true, Deterministic: false, Seed: 42);
        var mask = new PrefixLmMask(70);
        using var blocks = _accelerator.Allocate<byte>(BlockMask.Elements(c.Shape, perBatch: false, perHead: true));
        var blockMask = AttentionLauncher.BuildBlockMask(_accelerator, c.Shape, c.Settings, mask, blocks.View, perBatch: false, perHead: true);
        CheckAgainstUnblocked(c, mask, blockMask);
    }

    [TestCase(AttentionDtype.Fp16)]
    [TestCase(AttentionDtype.Bf16)]
    public void LongRunsOfEmptyBlocksMatchWithoutAndTheReference(AttentionDtype dtype)
    {
        // s_k = 1100: 18 key blocks, runs of 8 empty ones before, between and after the visible ones
        var c = new AttentionCase(new AttentionShape(1, 330, 1100, 2, 1, 32), dtype, Causal: false, BottomRight: true, Deterministic: false, Seed: 45);
        var mask = new StripedBlocksMask(1100 / 64);
        using var blocks = _accelerator.Allocate<byte>(BlockMask.Elements(c.Shape, perBatch: false, perHead: false));
        var blockMask = AttentionLauncher.BuildBlockMask(_accelerator, c.Shape, c.Settings, mask, blocks.View, perBatch: false, perHead: false);
        byte[] classes = blocks.ToArray();
        Assert.That(classes.Count(x => x == BlockMask.Empty), Is.GreaterThan(classes.Length / 2), "mostly empty");
        CheckAgainstUnblocked(c, mask, blockMask);
    }

    [Test]
    public void EmptyTilesAreNeverRead() => EmptyTilesAreNeverRead<Half>(x => (Half)x, x => (float)x);

    [Test]
    public void EmptyTilesAreNeverReadByTheFp32Kernels() => EmptyTilesAreNeverRead<float>(x => x, x => x);

    private void EmptyTilesAreNeverRead<T>(Func<float, T> narrow, Func<T, float> widen) where T : unmanaged
    {
        // keys from 128 on are hidden from every query, and their values are NaN: a kernel that visits their tiles computes
        // 0 · NaN = NaN in P·V; one that skips them (the block mask empties whole 64-key blocks) never sees them
        var shape = new AttentionShape(1, 100, 200, 2, 2, 32);
        var settings = new AttentionSettings(1f / MathF.Sqrt(32), Causal: false);
        var random = new Random(43);
        float[] q = [.. Enumerable.Range(0, 100 * 2 * 32).Select(_ => (float)(random.NextDouble() - 0.5))];
        float[] k = [.. Enumerable.Range(0, 200 * 2 * 32).Select(_ => (float)(random.NextDouble() - 0.5))];
        float[] v = [.. Enumerable.Range(0, 200 * 2 * 32).Select(i => i >= 128 * 2 * 32 ? float.NaN : (float)(random.NextDouble() - 0.5))];
        var mask = new KeyLimitMask(128);
        using var blocks = _accelerator.Allocate<byte>(BlockMask.Elements(shape, perBatch: false, perHead: false));
        var blockMask = AttentionLauncher.BuildBlockMask(_accelerator, shape, settings, mask, blocks.View, perBatch: false, perHead: false);
        using var qb = Upload(_accelerator, q, narrow);
        using var kb = Upload(_accelerator, k, narrow);
        using var vb = Upload(_accelerator, v, narrow);
        using var o = _accelerator.Allocate<T>(q.Length);
        using var lse = _accelerator.Allocate<float>(2 * 100);
        AttentionLauncher.Forward(_accelerator, shape, settings, new AttentionModifiers<NoScoreModifier, KeyLimitMask>(default, mask, blockMask),
            qb.View, kb.View, vb.View, o.View, lse.View);
        Assert.That(o.ToArray().Select(widen), Has.All.Not.NaN, "with the block mask");
        AttentionLauncher.Forward(_accelerator, shape, settings, new AttentionModifiers<NoScoreModifier, KeyLimitMask>(default, mask),
            qb.View, kb.View, vb.View, o.View, lse.View);
        Assert.That(o.ToArray().Select(widen), Has.Some.NaN, "without it the hidden NaN values are read (0 · NaN)");
    }

    [Test]
    public void Fp32WithTheBlockMaskEqualsWithoutAndAMismatchedOneIsRefused()
    {
        var shape = new AttentionShape(1, 100, 130, 1, 1, 16);
        var settings = new AttentionSettings(0.25f, Causal: false);
        var mask = new KeyLimitMask(70);
        using var blocks = _accelerator.Allocate<byte>(BlockMask.Elements(shape, false, false));
        var blockMask = AttentionLauncher.BuildBlockMask(_accelerator, shape, settings, mask, blocks.View, false, false);
        var random = new Random(44);
        using var x = _accelerator.Allocate<float>(130 * 16);
        x.CopyFromHost([.. Enumerable.Range(0, 130 * 16).Select(_ => (float)random.NextDouble() - 0.5f)]);
        using var o = _accelerator.Allocate<float>(100 * 16);
        using var lse = _accelerator.Allocate<float>(100);
        // fp32: empty tiles skipped, the rest as without the block mask
        AttentionLauncher.Forward(_accelerator, shape, settings, new AttentionModifiers<NoScoreModifier, KeyLimitMask>(default, mask, blockMask),
            x.View.SubView(0, 100 * 16), x.View, x.View, o.View, lse.View);
        float[] withBlocks = o.ToArray();
        AttentionLauncher.Forward(_accelerator, shape, settings, new AttentionModifiers<NoScoreModifier, KeyLimitMask>(default, mask),
            x.View.SubView(0, 100 * 16), x.View, x.View, o.View, lse.View);
        // the two calls run two kernels (with and without the block mask), and PTX's mul.f32/sub.f32 leave ptxas free to
        // fuse them differently in each: on CUDA they agree to rounding (H100, 2026-12-05: 7e-10 on an output of 5.4e-4,
        // a dozen ulps of that small element, which is a sum that cancels; the outputs are ~0.1), on the CPU exactly. A
        // skipped visible tile would drop 6 of the 70 visible keys: a change of ~1e-2
        Assert.That(withBlocks, Is.EqualTo(o.ToArray()).Within(1e-6f));
        var other = shape with { SeqLenK = 200 };
        Assert.Throws<ArgumentException>(() => AttentionLauncher.Forward(_accelerator, other, settings,
            new AttentionModifiers<NoScoreModifier, KeyLimitMask>(default, mask, blockMask), x.View, x.View, x.View, o.View, lse.View),
            "a mask built for s_k = 130 on a call with s_k = 200");
    }

    private void CheckAgainstUnblocked<TMask>(AttentionCase c, TMask mask, BlockMask blockMask) where TMask : struct, IMaskModifier
    {
        var run = new AttentionRun(c);
        var blocked = new AttentionModifiers<NoScoreModifier, TMask>(default, mask, blockMask);
        var plain = new AttentionModifiers<NoScoreModifier, TMask>(default, mask);
        var withBlocks = ModifierKernelTests.Kernels(_accelerator, run, c.Settings, blocked);
        var without = ModifierKernelTests.Kernels(_accelerator, run, c.Settings, plain);
        Assert.That(withBlocks.Output, Is.EqualTo(without.Output), "O with the block mask = O without it");
        Assert.That(withBlocks.Dq, Is.EqualTo(without.Dq).Within(2e-3), "dQ (atomic adds: the order may differ)");
        Assert.That(withBlocks.Dk, Is.EqualTo(without.Dk), "dK");
        Assert.That(withBlocks.Dv, Is.EqualTo(without.Dv), "dV");
        ModifierKernelTests.CheckAgainstReference(run, c.Settings, plain, withBlocks);
    }
}
