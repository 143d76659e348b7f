using FlashAttn.Compute;
using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Tests.Compute.Cpu;

/// <summary>
/// The CPU meaning of <see cref="AsyncCopy"/>: a copy lands when a wait retires its group, not when issued, so a tile read
/// before its wait holds what was there before (stale), as it may on a GPU; wait_group N leaves the newest N groups in
/// flight, wait_all none.
/// </summary>
public class AsyncCopyOrderingTests
{
    private const int Floats = 4 * 32;

    /// <summary>Two tiles, each first filled with −1 by plain stores, then overwritten by cp.async from
    /// <paramref name="input"/> in two commit groups; <paramref name="output"/> gets four snapshots of both tiles: before any
    /// wait, after WaitGroup(1), after WaitGroup(0), and of a third group after WaitAll.</summary>
    private static void StageInGroups(ArrayView<float> input, ArrayView<float> output)
    {
        var first = SharedMemory.Allocate<float>(Floats);
        var second = SharedMemory.Allocate<float>(Floats);
        int i = Group.IdxX;
        for (int e = i; e < Floats; e += Group.DimX) first[e] = second[e] = -1f;
        Group.Barrier();
        AsyncCopy.Copy16(ref first[4 * i], ref input[4 * i], true);
        AsyncCopy.Commit();
        AsyncCopy.Copy16(ref second[4 * i], ref input[Floats + 4 * i], true);
        AsyncCopy.Commit();
        Snapshot(first, second, output, 0);
        AsyncCopy.WaitGroup(1);
        Snapshot(first, second, output, 1);
        AsyncCopy.WaitGroup(0);
        Snapshot(first, second, output, 2);
        AsyncCopy.Copy16(ref first[4 * i], ref input[4 * i], false); // zero-fill, committed and landed by WaitAll
        Snapshot(first, second, output, 3);
        AsyncCopy.WaitAll();
        Snapshot(first, second, output, 4);
    }

    private static void Snapshot(ArrayView<float> first, ArrayView<float> second, ArrayView<float> output, int at)
    {
        Group.Barrier();
        for (int e = Group.IdxX; e < Floats; e += Group.DimX)
        {
            output[at * 2 * Floats + e] = first[e];
            output[at * 2 * Floats + Floats + e] = second[e];
        }
        Group.Barrier();
    }

    [Test]
    public void CopiesLandWhenTheirGroupIsWaitedFor()
    {
        using var cpu = new CpuAccelerator();
        var source = Enumerable.Range(1, 2 * Floats).Select(v => (float)v).ToArray();
        using var input = cpu.Allocate<float>(2 * Floats);
        using var output = cpu.Allocate<float>(5 * 2 * Floats);
        input.CopyFromHost(source);
        cpu.LoadKernel((Action<ArrayView<float>, ArrayView<float>>)StageInGroups).Launch(1, 32, input.View, output.View);
        var result = output.ToArray();
        float[] Tile(int at, int tile) => result.AsSpan(at * 2 * Floats + tile * Floats, Floats).ToArray();
        var stale = Enumerable.Repeat(-1f, Floats).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(Tile(0, 0), Is.EqualTo(stale), "before any wait: the first tile");
            Assert.That(Tile(0, 1), Is.EqualTo(stale), "before any wait: the second tile");
            Assert.That(Tile(1, 0), Is.EqualTo(source[..Floats]), "WaitGroup(1): the older group landed");
            Assert.That(Tile(1, 1), Is.EqualTo(stale), "WaitGroup(1): the newest group still in flight");
            Assert.That(Tile(2, 1), Is.EqualTo(source[Floats..]), "WaitGroup(0): both landed");
            Assert.That(Tile(3, 0), Is.EqualTo(source[..Floats]), "an uncommitted zero-fill: not landed");
            Assert.That(Tile(4, 0), Is.EqualTo(new float[Floats]), "WaitAll commits and lands it");
        });
    }
}
