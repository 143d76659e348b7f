using FlashAttn.Distributed;

namespace FlashAttn.Tests.Distributed;

/// <summary>
/// A ring call's arguments are checked on every rank, and all ranks throw together: the rank at fault its own exception,
/// the others an <see cref="ArgumentException"/> naming it. Nothing waits for a rank that gave up.
/// </summary>
[TestFixture]
public class RingValidationTests
{
    private static (object? Result, Exception? Error)[] Run(int ranks, Func<int, ContextParallel, Device, object?> body)
    {
        using var device = Device.Cpu(1);
        var groups = InProcessGroup.Create(device, ranks, TimeSpan.FromSeconds(60));
        try
        {
            return RankThreads.Run(ranks, rank => body(rank, new ContextParallel(groups[rank]), device));
        }
        finally
        {
            foreach (var g in groups) g.Dispose();
        }
    }

    private static DeviceTensor<float> Shard(Device device, int length, int heads = 2) =>
        DeviceTensor.Upload<float>(device, Enumerable.Range(0, length * heads * 8).Select(i => MathF.Sin(i)).ToArray(), 1, length, heads, 8);

    [Test]
    public void DifferentShapesAcrossRanksAreRefusedEverywhere()
    {
        var outcomes = Run(2, (rank, parallel, device) =>
        {
            using var q = Shard(device, 8, heads: rank == 0 ? 2 : 4);
            using var kv = Shard(device, 8);
            return FlashAttention.Forward(q, kv, kv, new AttentionOptions { Causal = true }, parallel);
        });
        foreach (var (_, error) in outcomes)
            Assert.That(error, Is.InstanceOf<ArgumentException>().And.Message.Contains("query heads").And.Property("ParamName").EqualTo("q"));
    }

    [Test]
    public void DifferentOptionsAcrossRanksAreRefusedEverywhere()
    {
        var outcomes = Run(3, (rank, parallel, device) =>
        {
            using var t = Shard(device, 8);
            return FlashAttention.Forward(t, t, t, new AttentionOptions { Causal = rank != 2 }, parallel);
        });
        foreach (var (_, error) in outcomes)
            Assert.That(error, Is.InstanceOf<ArgumentException>().And.Message.Contains("causal").And.Property("ParamName").EqualTo("options"));
    }

    [TestCase("k")]
    [TestCase("options")]
    public void ARankWithInvalidArgumentsThrowsItsOwnErrorAndTheOthersNameIt(string missing)
    {
        var outcomes = Run(3, (rank, parallel, device) =>
        {
            using var t = Shard(device, 8);
            bool fault = rank == 1;
            return FlashAttention.Forward(t, fault && missing == "k" ? null! : t, t,
                fault && missing == "options" ? null! : new AttentionOptions(), parallel);
        });
        Assert.That(outcomes[1].Error, Is.InstanceOf<ArgumentNullException>().And.Property("ParamName").EqualTo(missing));
        foreach (int rank in new[] { 0, 2 })
            Assert.That(outcomes[rank].Error, Is.InstanceOf<ArgumentException>().And.Message.Contains("Rank 1").And.Property("ParamName").EqualTo("parallel"));
    }

    [TestCase("window")]
    [TestCase("dropout")]
    [TestCase("odd")]
    [TestCase("keys")]
    public void UnsupportedCallsAreRefusedBeforeAnyShift(string what)
    {
        var outcomes = Run(2, (rank, parallel, device) =>
        {
            using var q = Shard(device, what == "odd" ? 7 : 8);
            using var kv = Shard(device, what == "keys" ? 6 : what == "odd" ? 7 : 8);
            var options = what switch
            {
                "window" => new AttentionOptions { WindowLeft = 4 },
                "dropout" => new AttentionOptions { Dropout = new Dropout(0.1f, 1, 0) },
                _ => new AttentionOptions(),
            };
            return FlashAttention.Forward(q, kv, kv, options, parallel);
        });
        string param = what switch { "odd" => "q", "keys" => "k", _ => "options" };
        Assert.That(outcomes[0].Error, Is.InstanceOf<ArgumentException>().And.Property("ParamName").EqualTo(param));
    }

    [Test]
    public void TensorsOnAnotherDeviceAreRefused()
    {
        using var other = Device.Cpu(1);
        var outcomes = Run(1, (rank, parallel, device) =>
        {
            using var t = Shard(other, 8);
            return FlashAttention.Forward(t, t, t, new AttentionOptions(), parallel);
        });
        Assert.That(outcomes[0].Error, Is.InstanceOf<ArgumentException>().And.Property("ParamName").EqualTo("q"));
    }

    [Test]
    public void AMissingGroupIsNamed()
    {
        using var device = Device.Cpu(1);
        using var t = Shard(device, 8);
        Assert.That(() => FlashAttention.Forward(t, t, t, new AttentionOptions(), null!),
            Throws.InstanceOf<ArgumentNullException>().With.Property("ParamName").EqualTo("parallel"));
    }
}

/// <summary>The in-process transport's own behaviour: arguments, timeouts, ranks that leave.</summary>
[TestFixture]
public class InProcessGroupTests
{
    [Test]
    public void CreateChecksItsArguments()
    {
        using var device = Device.Cpu(1);
        Assert.That(() => InProcessGroup.Create(Array.Empty<Device>()), Throws.ArgumentException.With.Property("ParamName").EqualTo("devices"));
        Assert.That(() => InProcessGroup.Create(new Device[] { device, null! }), Throws.ArgumentNullException.With.Property("ParamName").EqualTo("devices"));
        Assert.That(() => InProcessGroup.Create(device, 0), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("size"));
        Assert.That(() => InProcessGroup.Create(device, 2, TimeSpan.Zero), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("timeout"));
        var groups = InProcessGroup.Create(device, 3);
        Assert.That(groups.Select(g => (g.Rank, g.Size, g.Next, g.Previous)),
            Is.EqualTo(new[] { (0, 3, 1, 2), (1, 3, 2, 0), (2, 3, 0, 1) }));
    }

    [Test]
    public void ShiftsMoveTensorsToTheNextRankAndGathersCollectValues()
    {
        using var device = Device.Cpu(1);
        var groups = InProcessGroup.Create(device, 3);
        var results = RankThreads.RunAll(3, rank =>
        {
            using var send = DeviceTensor.Upload<float>(device, new[] { rank, rank + 0.5f }, 2);
            using var receive = DeviceTensor.Zeros<float>(device, 2);
            groups[rank].StartRingShift([send], [receive]).Wait();
            var gathered = groups[rank].AllGather([rank * 10L]);
            return (receive.ToArray(), gathered.Select(v => v[0]).ToArray());
        });
        for (int rank = 0; rank < 3; rank++)
        {
            int previous = (rank + 2) % 3;
            Assert.That(results[rank].Item1, Is.EqualTo(new[] { previous, previous + 0.5f }));
            Assert.That(results[rank].Item2, Is.EqualTo(new[] { 0L, 10L, 20L }));
        }
    }

    [Test]
    public void ARankThatNeverComesTimesOut()
    {
        using var device = Device.Cpu(1);
        var groups = InProcessGroup.Create(device, 2, TimeSpan.FromMilliseconds(200));
        Assert.That(() => groups[0].AllGather([1L]), Throws.InstanceOf<TimeoutException>().With.Message.Contains("all-gather"));
    }

    [Test]
    public void ARankThatLeavesFailsItsPeersAtOnce()
    {
        using var device = Device.Cpu(1);
        var groups = InProcessGroup.Create(device, 2);
        using var t = DeviceTensor.Zeros<float>(device, 4);
        using var r = DeviceTensor.Zeros<float>(device, 4);
        groups[1].Dispose();
        var transfer = groups[0].StartRingShift([t], [r]);
        Assert.That(() => transfer.Wait(), Throws.InvalidOperationException.With.Message.Contains("rank 1 has left"));
        Assert.That(() => groups[1].AllGather([1L]), Throws.InstanceOf<ObjectDisposedException>());
    }
}
