using FlashAttn.Kernels;

namespace FlashAttn.Tests.Api;

/// <summary>Two documents per sequence, split at <see cref="Split"/>.</summary>
public readonly struct TwoDocuments(int split) : IMaskModifier
{
    public int Split { get; } = split;

    public bool Visible(ScorePosition at) => at.Query < Split == at.Key < Split;
}

/// <summary>
/// <see cref="FlashAttention.CreateBlockMask{TMask}"/> through the public API: the mask's classes, and attention with the
/// block mask equal to attention without it on the GPU kernels (emulated; fp16 skips tiles, fp32 ignores the mask) and on
/// the CPU path (which skips tiles too; more in <see cref="Cpu.CpuBlockMaskTests"/>).
/// </summary>
[TestFixture]
public class BlockMaskApiTests
{
    [TestCase(false, DType.Float16)]
    [TestCase(false, DType.Float32)]
    [TestCase(true, DType.Float32)]
    public void AttentionWithTheBlockMaskEqualsWithout(bool cpuPath, DType dtype)
    {
        using var device = cpuPath ? Device.Cpu(2) : Device.CpuEmulator();
        if (dtype == DType.Float16) Run<Half>(device, x => (Half)x);
        else Run<float>(device, x => x);
    }

    private static void Run<T>(Device device, Func<float, T> narrow) where T : unmanaged
    {
        const int s = 150, h = 2, d = 32;
        var random = new Random(51);
        T[] Values(int n) => [.. Enumerable.Range(0, n).Select(_ => narrow((float)(random.NextDouble() * 2 - 1)))];
        using var q = DeviceTensor.Upload<T>(device, Values(s * h * d), 1, s, h, d);
        using var k = DeviceTensor.Upload<T>(device, Values(s * h * d), 1, s, h, d);
        using var v = DeviceTensor.Upload<T>(device, Values(s * h * d), 1, s, h, d);
        var mask = new TwoDocuments(64);
        using var blocks = FlashAttention.CreateBlockMask(device, mask, batch: 1, headsQ: h, seqLenQ: s, seqLenK: s, perBatch: false);
        // 3 × 3 blocks of 64: queries 0–63 see keys 0–63 only; the rest see the rest
        Assert.That(blocks.ToArray(), Is.EqualTo(new byte[]
        {
            BlockMask.Full, BlockMask.Empty, BlockMask.Empty,
            BlockMask.Empty, BlockMask.Full, BlockMask.Full,
            BlockMask.Empty, BlockMask.Full, BlockMask.Full,
        }));
        var options = new AttentionOptions { Causal = true };
        using var with = FlashAttention.Forward(q, k, v, new AttentionModifiers<NoScoreModifier, TwoDocuments>(default, mask, blocks.Mask), options);
        using var without = FlashAttention.Forward(q, k, v, new AttentionModifiers<NoScoreModifier, TwoDocuments>(default, mask), options);
        Assert.That(with.Output.ToArray(), Is.EqualTo(without.Output.ToArray()));
    }

    [Test]
    public void AMaskFromAnotherDeviceOrDisposedIsRefusedBeforeAnyLaunch()
    {
        using var device = Device.Cpu(2);
        using var other = Device.Cpu(2);
        const int s = 70, h = 1, d = 16;
        float[] values = [.. Enumerable.Range(0, s * h * d).Select(i => MathF.Sin(i * 0.37f))];
        using var q = DeviceTensor.Upload<float>(device, values, 1, s, h, d);
        var mask = new TwoDocuments(64);
        var elsewhere = FlashAttention.CreateBlockMask(other, mask, batch: 1, headsQ: h, seqLenQ: s, seqLenK: s);
        var foreign = Assert.Throws<ArgumentException>(() => FlashAttention.Forward(q, q, q,
            new AttentionModifiers<NoScoreModifier, TwoDocuments>(default, mask, elsewhere.Mask)).Dispose())!;
        Assert.That(foreign.ParamName, Is.EqualTo("modifiers"));
        Assert.That(foreign.Message, Does.Contain("built on").And.Contain("build it on the call's device"));

        var stale = FlashAttention.CreateBlockMask(device, mask, batch: 1, headsQ: h, seqLenQ: s, seqLenK: s);
        var blockMask = stale.Mask;
        stale.Dispose();
        stale.Dispose(); // twice is harmless
        elsewhere.Dispose();
        var disposed = Assert.Throws<ArgumentException>(() => FlashAttention.Forward(q, q, q,
            new AttentionModifiers<NoScoreModifier, TwoDocuments>(default, mask, blockMask)).Dispose())!;
        Assert.That(disposed.ParamName, Is.EqualTo("modifiers"));
        Assert.That(disposed.Message, Does.Contain("disposed"));

    }

    [Test]
    public void AStaleCopyIsRefusedEvenWhenANewerMaskHoldsItsMemory()
    {
        // freed memory may go to a newer mask: a stale copy then points at live memory, and only the identity differs
        // (simulated here with the newer mask's own memory, since the allocator need not hand the same block back)
        using var device = Device.Cpu(2);
        const int s = 70, h = 1, d = 16;
        float[] values = [.. Enumerable.Range(0, s * h * d).Select(i => MathF.Cos(i * 0.29f))];
        using var q = DeviceTensor.Upload<float>(device, values, 1, s, h, d);
        var mask = new TwoDocuments(64);
        using var newer = FlashAttention.CreateBlockMask(device, mask, batch: 1, headsQ: h, seqLenQ: s, seqLenK: s);
        var stale = newer.Mask with { Identity = newer.Mask.Identity - 1 };
        Assert.That(() => FlashAttention.Forward(q, q, q, new AttentionModifiers<NoScoreModifier, TwoDocuments>(default, mask, stale)).Dispose(),
            Throws.ArgumentException.With.Property("ParamName").EqualTo("modifiers").And.Message.Contain("disposed"));
        using var live = FlashAttention.Forward(q, q, q, new AttentionModifiers<NoScoreModifier, TwoDocuments>(default, mask, newer.Mask));
    }
}
