using FlashAttn.Compute;
using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Tests.Compute.Cpu;

/// <summary>
/// Regressions: races between a group's threads at its barriers and exits, and the recycling of its state
/// for a later group. Each showed up as a rare phantom deadlock, phantom early return or phantom late
/// arrival in a correct kernel (seen as rare failures of the attention table).
/// </summary>
public class GroupStateRecyclingTests
{
    private static void Tiny(ArrayView<int> output) => output[Grid.GlobalIndexX] = Grid.IdxX;

    private static void TinyWithBarrier(ArrayView<int> output)
    {
        var shared = SharedMemory.Allocate<int>(1);
        if (Group.IdxX == 0) shared[0] = Grid.IdxX;
        Group.Barrier();
        output[Grid.GlobalIndexX] = shared[0];
    }

    // Recycling on the last thread's exit count let a slower thread's late bookkeeping land in the next group.
    [Test]
    public void ManyShortGroupsRecycleStatesSafely()
    {
        using var cpu = new CpuAccelerator();
        const int groups = 400, threads = 256; // recycles every ring state many times per launch
        using var output = cpu.Allocate<int>(groups * threads);
        foreach (var kernel in new[] { cpu.LoadKernel(Tiny), cpu.LoadKernel(TinyWithBarrier) })
            for (int launch = 0; launch < 4; launch++)
            {
                output.MemSet(0xFF);
                kernel.Launch(groups, threads, output.View);
                var result = output.ToArray();
                for (int i = 0; i < result.Length; i += 97)
                    Assert.That(result[i], Is.EqualTo(i / threads), $"{kernel.Method.Name}, launch {launch}, element {i}");
            }
    }

    // A thread counted at the last barrier but preempted before it looked for returned members saw a member
    // that returned only after that barrier completed ("reached the group barrier after thread M had
    // returned"). Small groups let the rest of the group get past the barrier while one thread is preempted,
    // and concurrent launches preempt often on few cores: before the fix 20 of 24 runs of this test failed
    // on 2 cores.
    [Test]
    public void ConcurrentLaunchesOfSmallGroupsSeeNoFalseLateArrivals()
    {
        using var cpu = new CpuAccelerator();
        var kernel = cpu.LoadKernel(TinyWithBarrier);
        const int groups = 20000, launches = 2;
        int[] groupSizes = [3, 4, 5, 6, 7, 8, 3, 4, 5, 6, 7, 8]; // one per launching host thread
        var errors = new string?[groupSizes.Length];
        var hosts = groupSizes.Select((size, h) => new Thread(() =>
        {
            try
            {
                using var output = cpu.Allocate<int>(groups * size);
                for (int launch = 0; launch < launches && errors[h] is null; launch++)
                {
                    output.MemSet(0xFF);
                    kernel.Launch(groups, size, output.View);
                    var result = output.ToArray();
                    for (int i = 0; i < result.Length; i += 7)
                        if (result[i] != i / size) errors[h] = $"group size {size}, launch {launch}: element {i} is {result[i]}";
                }
            }
            catch (Exception e)
            {
                errors[h] = $"group size {size}: {e.Message}";
            }
        })).ToArray();
        foreach (var host in hosts) host.Start();
        foreach (var host in hosts) host.Join();
        Assert.That(errors.Where(e => e is not null), Is.Empty);
    }

    [TestCase(1, 2, 2, true)]
    [TestCase(2, 2, 2, false)]
    [TestCase(2, 1, 2, true)]
    [TestCase(8, 2, 16, true)]
    [TestCase(16, 2, 16, false)]
    [TestCase(1, 256, 2, false)]
    public void SpinningOnlyWhenEveryRunningThreadHasACore(int slots, int groupSize, int processors, bool spins)
        => Assert.That(CpuGroupState.ShouldSpin(slots, groupSize, processors), Is.EqualTo(spins));
}
