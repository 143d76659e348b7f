using FlashAttn.Compute;
using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Tests.Compute.Cpu;

/// <summary>
/// The CPU meaning of <see cref="MBarrier"/> beyond the corpus's producer–consumer ring: a phase waits for its transaction
/// bytes as well as its arrivals, and a wait that cannot complete (an arrival missing) fails the launch instead of hanging.
/// </summary>
public class MBarrierTests
{
    /// <summary>All 32 threads arrive, thread 0 announcing 16 bytes; the phase completes only when thread 1 has completed them
    /// (<paramref name="complete"/>); output[t] = whether thread t saw phase 0 complete.</summary>
    private static void ArriveThenComplete(ArrayView<int> output, SpecializedValue<bool> complete)
    {
        var barrier = SharedMemory.Allocate<ulong>(1);
        if (Group.IdxX == 0) MBarrier.Init(ref barrier[0], Group.DimX);
        Group.Barrier();
        if (Group.IdxX == 0) MBarrier.ArriveExpectTransaction(ref barrier[0], 16);
        else MBarrier.Arrive(ref barrier[0]);
        Group.Barrier();
        bool before = MBarrier.TryWaitParity(ref barrier[0], 0);
        Group.Barrier();
        if (Group.IdxX == 1 && complete.Value) MBarrier.CompleteTransaction(ref barrier[0], 16);
        MBarrier.WaitParity(ref barrier[0], 0);
        output[Group.IdxX] = before ? 1 : 2;
    }

    private static int[] Run(bool complete)
    {
        using var cpu = new CpuAccelerator();
        using var output = cpu.Allocate<int>(32);
        cpu.LoadKernel((Action<ArrayView<int>, SpecializedValue<bool>>)ArriveThenComplete).Launch(1, 32, output.View, SpecializedValue.New(complete));
        return output.ToArray();
    }

    [Test]
    public void APhaseWaitsForItsTransactionBytes()
        => Assert.That(Run(complete: true), Is.All.EqualTo(2), "every arrival in, 16 bytes owed: not complete until they land");

    [Test]
    public void AWaitThatCannotCompleteFailsTheLaunch()
    {
        var patience = CpuMBarrier.Patience;
        CpuMBarrier.Patience = TimeSpan.FromMilliseconds(300);
        try
        {
            var e = Assert.Catch(() => Run(complete: false));
            Assert.That(e!.ToString(), Does.Contain("saw no completion").And.Contain("16 transaction bytes"));
        }
        finally
        {
            CpuMBarrier.Patience = patience;
        }
    }
}
