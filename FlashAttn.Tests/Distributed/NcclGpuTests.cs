using FlashAttn.Compute.Runtime.Cuda;
using FlashAttn.Distributed;
using FlashAttn.Tests.Support;

namespace FlashAttn.Tests.Distributed;

/// <summary>
/// The NCCL transport on real GPUs; not generated without CUDA (<see cref="CudaOnly"/>), and each test is skipped when
/// NCCL does not load (point <c>FLASHATTN_NCCL_LIBRARY</c> at libnccl.so.2). The multi-GPU test needs two GPUs or more.
/// </summary>
[TestFixtureSource(typeof(CudaOnly), nameof(CudaOnly.Fixture))]
[Category("Gpu")]
[NonParallelizable]
public class NcclGpuTests
{
    // Each test calls this first: an Assume in [SetUp] does not stop the test body under this runner.
    private static void RequireNccl()
    {
        Assume.That(CudaOnly.IsAvailable, Is.True, "no CUDA device");
        Assume.That(NcclProcessGroup.IsAvailable, Is.True, "NCCL did not load: set FLASHATTN_NCCL_LIBRARY to libnccl.so.2");
    }

    private static float[] Ramp(int count, float start) => [.. Enumerable.Range(0, count).Select(i => start + i)];

    [Test]
    public void AOneRankGroupShiftsSendIntoReceive()
    {
        RequireNccl();
        using var device = Device.Cuda(0);
        var groups = NcclProcessGroup.CreateAll([device]);
        Assert.That(groups, Has.Length.EqualTo(1));
        using var group = groups[0];
        Assert.That((group.Rank, group.Size, group.Next, group.Previous), Is.EqualTo((0, 1, 0, 0)));

        var floats = Ramp(24, 1);
        var halves = floats.Select(f => (Half)(-f)).ToArray();
        using var sendFloats = DeviceTensor.Upload<float>(device, floats, 2, 3, 4);
        using var sendHalves = DeviceTensor.Upload<Half>(device, halves, 24);
        using var receiveFloats = DeviceTensor.Zeros<float>(device, 2, 3, 4);
        using var receiveHalves = DeviceTensor.Zeros<Half>(device, 24);

        group.StartRingShift([sendFloats, sendHalves], [receiveFloats, receiveHalves]).Wait();

        Assert.That(receiveFloats.ToArray(), Is.EqualTo(floats));
        Assert.That(receiveHalves.ToArray(), Is.EqualTo(halves));
    }

    [Test]
    public void AOneRankGroupGathersItsOwnValues()
    {
        RequireNccl();
        using var device = Device.Cuda(0);
        using var group = NcclProcessGroup.CreateAll([device])[0];
        var gathered = group.AllGather([3, -4, long.MaxValue]);
        Assert.That(gathered, Has.Length.EqualTo(1));
        Assert.That(gathered[0], Is.EqualTo(new long[] { 3, -4, long.MaxValue }));
    }

    [Test]
    public void ARankJoinedWithAnIdWorks()
    {
        RequireNccl();
        using var device = Device.Cuda(0);
        var id = NcclUniqueId.Create();
        Assert.That(NcclUniqueId.Parse(id.ToString()), Is.EqualTo(id));
        using var group = NcclProcessGroup.Create(device, 0, 1, id);
        Assert.That(group.NcclVersion.Major, Is.GreaterThanOrEqualTo(2));

        var values = Ramp(10, 5);
        using var send = DeviceTensor.Upload<float>(device, values, 10);
        using var receive = DeviceTensor.Zeros<float>(device, 10);
        group.StartRingShift([send], [receive]).Wait();
        Assert.That(receive.ToArray(), Is.EqualTo(values));
        Assert.That(group.AllGather([7])[0], Is.EqualTo(new long[] { 7 }));
    }

    [Test]
    public void MismatchedOrOverlappingTensorsAreRefused()
    {
        RequireNccl();
        using var device = Device.Cuda(0);
        using var group = NcclProcessGroup.CreateAll([device])[0];
        using var a = DeviceTensor.Zeros<float>(device, 8);
        using var b = DeviceTensor.Zeros<float>(device, 8);
        using var shorter = DeviceTensor.Zeros<float>(device, 7);
        using var half = DeviceTensor.Zeros<Half>(device, 8);

        Assert.That(Assert.Throws<ArgumentException>(() => group.StartRingShift([a], [half]))!.Message, Does.Contain("Float16").And.Contain("Float32"));
        Assert.That(Assert.Throws<ArgumentException>(() => group.StartRingShift([a], [shorter]))!.Message, Does.Contain("7 elements"));
        Assert.That(Assert.Throws<ArgumentException>(() => group.StartRingShift([a], [a]))!.Message, Does.Contain("receive[0] overlaps send[0]"));
        Assert.That(Assert.Throws<ArgumentException>(() => group.StartRingShift([a, b], [b, a]))!.Message, Does.Contain("overlaps"));
        Assert.That(Assert.Throws<ArgumentException>(() => group.StartRingShift([a, b], [half]))!.ParamName, Is.EqualTo("receive"));
    }

    [Test]
    public void DisposingTwiceIsHarmlessAndADisposedGroupIsRefused()
    {
        RequireNccl();
        using var device = Device.Cuda(0);
        var group = NcclProcessGroup.CreateAll([device])[0];
        using var a = DeviceTensor.Zeros<float>(device, 4);
        using var b = DeviceTensor.Zeros<float>(device, 4);
        group.Dispose();
        Assert.That(group.IsDisposed, Is.True);
        Assert.DoesNotThrow(group.Dispose);
        Assert.Throws<ObjectDisposedException>(() => group.StartRingShift([a], [b]));
        Assert.Throws<ObjectDisposedException>(() => group.AllGather([1]));
    }

    [Test]
    public void EveryGpuReceivesItsPredecessorsTensorsAndAllValuesAreGathered()
    {
        RequireNccl();
        int count = CudaAccelerator.DeviceCount();
        Assume.That(count, Is.GreaterThanOrEqualTo(2), "one GPU only");
        var devices = Enumerable.Range(0, count).Select(i => Device.Cuda(i)).ToArray();
        try
        {
            var groups = NcclProcessGroup.CreateAll(devices);
            try
            {
                // A thread per rank: the ranks' calls of one collective must run concurrently.
                var results = new (float[] Floats, BFloat16[] Bf16, long[][] Gathered)[count];
                var failures = new Exception?[count];
                var threads = groups.Select(group => new Thread(() =>
                {
                    try
                    {
                        RunRank(group);
                    }
                    catch (Exception e)
                    {
                        failures[group.Rank] = e; // an exception escaping a thread would end the test process
                    }
                }) { IsBackground = true }).ToArray(); // a rank stuck in NCCL must not keep the process alive
                foreach (var thread in threads) thread.Start();
                foreach (var thread in threads) Assert.That(thread.Join(TimeSpan.FromMinutes(2)), Is.True, "a rank hung");
                Assert.That(failures, Is.All.Null);

                void RunRank(NcclProcessGroup group)
                {
                    var device = group.Device;
                    int rank = group.Rank;
                    using var sendFloats = DeviceTensor.Upload<float>(device, Ramp(1000, 1000 * rank), 1000);
                    using var sendBf16 = DeviceTensor.Upload<BFloat16>(device, Ramp(64, rank).Select(f => (BFloat16)f).ToArray(), 64);
                    using var receiveFloats = DeviceTensor.Zeros<float>(device, 1000);
                    using var receiveBf16 = DeviceTensor.Zeros<BFloat16>(device, 64);
                    var transfer = group.StartRingShift([sendFloats, sendBf16], [receiveFloats, receiveBf16]);
                    transfer.Wait();
                    var gathered = group.AllGather([rank, 10L * rank]);
                    results[rank] = (receiveFloats.ToArray(), receiveBf16.ToArray(), gathered);
                }

                for (int rank = 0; rank < count; rank++)
                {
                    int previous = (rank + count - 1) % count;
                    Assert.That(results[rank].Floats, Is.EqualTo(Ramp(1000, 1000 * previous)), $"rank {rank}");
                    Assert.That(results[rank].Bf16, Is.EqualTo(Ramp(64, previous).Select(f => (BFloat16)f).ToArray()), $"rank {rank}");
                    Assert.That(results[rank].Gathered, Is.EqualTo(Enumerable.Range(0, count).Select(r => new long[] { r, 10L * r }).ToArray()));
                }
            }
            finally
            {
                foreach (var group in groups) group.Dispose();
            }
        }
        finally
        {
            foreach (var device in devices) device.Dispose();
        }
    }
}
