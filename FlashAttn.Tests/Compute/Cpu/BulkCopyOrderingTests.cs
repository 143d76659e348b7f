using FlashAttn.Compute;
using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Tests.Compute.Cpu;

/// <summary>
/// The CPU meaning of <see cref="BulkCopy"/> catches what would be a race on a GPU: a bulk copy's shared source written
/// again before the wait that retires it, and a kernel returning with copies in flight. A correct kernel adds exactly.
/// </summary>
public class BulkCopyOrderingTests
{
    private const int Floats = 8;

    /// <summary>Stages (1, 2, …) in shared memory, adds it to <paramref name="output"/>, and then writes the stage again:
    /// after <see cref="BulkCopy.WaitRead"/> when <paramref name="waitBeforeWriting"/>, else while the copy may still read it;
    /// <paramref name="waitAtEnd"/>: the kernel waits for completion before it returns.</summary>
    private static void StageAddAndOverwrite(ArrayView<float> output, SpecializedValue<bool> waitBeforeWriting, SpecializedValue<bool> waitAtEnd)
    {
        var stage = SharedMemory.Allocate<float>(Floats);
        if (Group.IdxX < Floats) stage[Group.IdxX] = Group.IdxX + 1;
        BulkCopy.FenceSharedForAsync();
        Group.Barrier();
        if (Group.IdxX == 0) BulkCopy.ReduceAdd(ref output[0], ref stage[0], Floats * sizeof(float));
        BulkCopy.Commit();
        if (waitBeforeWriting.Value) BulkCopy.WaitRead(0);
        Group.Barrier();
        if (Group.IdxX < Floats) stage[Group.IdxX] = -1f;
        if (waitAtEnd.Value) BulkCopy.Wait(0);
    }

    private static float[] Run(bool waitBeforeWriting, bool waitAtEnd)
    {
        using var cpu = new CpuAccelerator();
        using var output = cpu.Allocate<float>(Floats);
        output.CopyFromHost(Enumerable.Repeat(0.5f, Floats).ToArray());
        cpu.LoadKernel((Action<ArrayView<float>, SpecializedValue<bool>, SpecializedValue<bool>>)StageAddAndOverwrite)
            .Launch(1, 32, output.View, SpecializedValue.New(waitBeforeWriting), SpecializedValue.New(waitAtEnd));
        return output.ToArray();
    }

    [Test]
    public void WaitedCopiesAddTheStageAsIssued()
        => Assert.That(Run(waitBeforeWriting: true, waitAtEnd: true), Is.EqualTo(Enumerable.Range(1, Floats).Select(v => v + 0.5f).ToArray()));

    [Test]
    public void WritingTheSourceBeforeTheReadWaitFails()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Run(waitBeforeWriting: false, waitAtEnd: true));
        Assert.That(e!.Message, Does.Contain("changed between its issue and the wait"));
    }

    [Test]
    public void ReturningWithCopiesInFlightFails()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Run(waitBeforeWriting: false, waitAtEnd: false));
        Assert.That(e!.Message, Does.Contain("bulk copies not waited for"));
    }
}
