using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cpu;
using FlashAttn.Kernels;
using static FlashAttn.Tests.Support.DeviceBuffers;

using FlashAttn.Tests.Support;

namespace FlashAttn.Tests.Kernels;

/// <summary>
/// The tensor-core kernels' walk past the tiles a block mask empties (<see cref="BlockMaskWalk"/>), run by one warp on the
/// CPU accelerator and through the IR interpreter, against a host walk: lines of up to 150 blocks (five windows of 32),
/// runs of empty blocks across window boundaries, tiles of half, one and two mask blocks along either axis, a start
/// inside the line.
/// </summary>
[NonParallelizable]
public sealed class BlockMaskWalkTests
{
    private const int LineBlocks = 5, WalkBlocks = 150;

    /// <summary>Lane 0 writes each visited block and its class, then the count last.</summary>
    public static void Walk(ArrayView<byte> classes, int queryBlocks, int keyBlocks, ArrayView<int> visited, int lineStart, int lineLength, int step,
        int end, int from, SpecializedValue<bool> alongKeys)
    {
        var modifiers = new AttentionModifiers<NoScoreModifier, NoMaskModifier>(default, default, new BlockMask(classes, 0, 0, queryBlocks, keyBlocks));
        int flags = AttentionModifiers<NoScoreModifier, NoMaskModifier>.BlockMaskFlag;
        var walk = alongKeys.Value
            ? BlockMaskWalk.AlongKeys(modifiers, flags, 0, 0, lineStart, lineLength, step, end)
            : BlockMaskWalk.AlongQueries(modifiers, flags, 0, 0, lineStart, lineLength, step, end);
        var window = walk.WindowAt(from);
        int count = 0;
        for (int block = walk.Next(from, ref window); block < end; block = walk.Next(block + 1, ref window))
        {
            byte tileClass = walk.ClassOf(block, window);
            if (Warp.LaneIdx == 0)
            {
                visited[2 * count] = block;
                visited[2 * count + 1] = tileClass;
            }
            count++;
        }
        if (Warp.LaneIdx == 0) visited[visited.Length - 1] = count;
    }

    // (along keys, line start, line length, step, from): rows or keys of 64, 128 and 32 across the line; steps of 32, 64, 128
    [TestCase(true, 64, 128, 64, 0)]
    [TestCase(true, 128, 64, 32, 3)]
    [TestCase(true, 256, 32, 128, 0)]
    [TestCase(false, 64, 128, 64, 0)]
    [TestCase(false, 128, 64, 32, 1)]
    [TestCase(false, 192, 32, 128, 0)]
    public void VisitsTheBlocksTheMaskDoesNotEmpty(bool alongKeys, int lineStart, int lineLength, int step, int from)
    {
        // a mask of 5 blocks across the line and 150 along the walk, in runs of one class 1 to 70 blocks long (long runs empty)
        int queryBlocks = alongKeys ? LineBlocks : WalkBlocks, keyBlocks = alongKeys ? WalkBlocks : LineBlocks;
        var random = new Random(lineStart + step + (alongKeys ? 1 : 0));
        byte[] classes = new byte[queryBlocks * keyBlocks];
        for (int i = 0; i < classes.Length;)
        {
            byte kind = (byte)random.Next(3);
            int run = kind == BlockMask.Empty ? random.Next(1, 71) : random.Next(1, 9);
            for (int j = 0; j < run && i < classes.Length; j++) classes[i++] = kind;
        }
        int end = WalkBlocks * BlockMask.BlockSize / step - 1; // the line's last tile past the walk's end
        var expected = new List<(int Block, int Class)>();
        for (int block = from; block < end; block++)
        {
            byte tileClass = alongKeys
                ? TileOf(classes, queryBlocks, keyBlocks, lineStart, lineLength, block * step, step)
                : TileOf(classes, queryBlocks, keyBlocks, block * step, step, lineStart, lineLength);
            if (tileClass != BlockMask.Empty) expected.Add((block, tileClass));
        }
        Assert.That(expected.Count, Is.InRange(4, end - 8), "runs of empty blocks to walk past");

        using var cpu = new CpuAccelerator();
        using var mask = Upload(cpu, classes);
        var kernel = typeof(BlockMaskWalkTests).GetMethod(nameof(Walk))!;
        foreach (bool interpreted in new[] { false, true })
        {
            using var visited = cpu.Allocate<int>(2 * end + 1);
            object[] args = [mask.View, queryBlocks, keyBlocks, visited.View, lineStart, lineLength, step, end, from, SpecializedValue.New(alongKeys)];
            var config = new LaunchConfig(1, 32);
            KernelOnCpu.Run(cpu, kernel, config, args, interpreted);
            int[] output = visited.ToArray();
            var actual = Enumerable.Range(0, output[^1]).Select(i => (output[2 * i], output[2 * i + 1])).ToList();
            Assert.That(actual, Is.EqualTo(expected), interpreted ? "IR interpreter" : "CPU accelerator");
        }
    }

    /// <summary>The tile's class on the host: Empty when every mask block it covers is, Full when every one is.</summary>
    private static byte TileOf(byte[] classes, int queryBlocks, int keyBlocks, int q0, int rows, int k0, int cols)
    {
        var covered = new List<byte>();
        for (int qb = q0 / 64; qb <= Math.Min(queryBlocks - 1, (q0 + rows - 1) / 64); qb++)
            for (int kb = k0 / 64; kb <= Math.Min(keyBlocks - 1, (k0 + cols - 1) / 64); kb++)
                covered.Add(classes[qb * keyBlocks + kb]);
        return covered.All(c => c == BlockMask.Empty) ? BlockMask.Empty : covered.All(c => c == BlockMask.Full) ? BlockMask.Full : BlockMask.Partial;
    }
}
