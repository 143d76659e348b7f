using System.Reflection;
using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cpu;
using FlashAttn.Kernels;

using FlashAttn.Tests.Support;

namespace FlashAttn.Tests.Kernels;

/// <summary>
/// <see cref="ITensorCoreStorage{T}.StoreTwoTiles"/> of every storage (fp16 and bf16 by stmatrix, 3×TF32 by 32-bit pairs)
/// against the mma accumulator layout: register 4j + 2h + e of lane 4g + t is row g + 8h, column 8j + 2t + e of the two
/// n8 tiles. The backward stores Pᵀ and dSᵀ this way up to d' = 96 (16-bit); the fp32 form is the same contract, which
/// no kernel calls today, so this is where it is checked. On the CPU accelerator and through the IR interpreter.
/// </summary>
[NonParallelizable]
public sealed class TensorCoreStorageTests
{
    // a 16 × 16 tile at (Row0, Column0) of a zeroed 20 × Stride one: the stores must land there and nowhere else
    private const int Rows = 20, Stride = 24, Row0 = 2, Column0 = 8;

    /// <summary>One warp: accumulators of two n8 tiles from <see cref="Value"/>, stored, the whole tile copied out.</summary>
    internal static void StoreTwoTiles<T, TStorage>(ArrayView<T> output)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T>
    {
        var tile = SharedMemory.Allocate<T>(Rows * Stride);
        T zero = TStorage.Store(0f);
        for (int e = Group.IdxX; e < Rows * Stride; e += Group.DimX) tile[e] = zero;
        Group.Barrier();
        int lane = Warp.LaneIdx;
        var c = LocalMemory.Allocate<float>(8);
        for (int i = 0; i < 8; i++) c[i] = Value(lane, i);
        TStorage.StoreTwoTiles(c, 0, tile, Stride, Row0, Column0);
        Group.Barrier();
        for (int e = Group.IdxX; e < Rows * Stride; e += Group.DimX) output[e] = tile[e];
    }

    /// <summary>Accumulator <paramref name="index"/> of <paramref name="lane"/>: 1…256, exact in fp16, bf16 and fp32, all different.</summary>
    public static float Value(int lane, int index) => 8 * lane + index + 1;

    [Test]
    public void Half([Values] bool interpreted) => Check<Half, Float16Storage>(interpreted, v => (float)v);

    [Test]
    public void BFloat16([Values] bool interpreted) => Check<BFloat16, BFloat16Storage>(interpreted, v => (float)v);

    [Test]
    public void Tf32Split([Values] bool interpreted) => Check<float, Tf32SplitStorage>(interpreted, v => v);

    private static void Check<T, TStorage>(bool interpreted, Func<T, float> widen)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T>
    {
        using var cpu = new CpuAccelerator();
        using var output = cpu.Allocate<T>(Rows * Stride);
        object[] args = [output.View];
        var kernel = typeof(TensorCoreStorageTests).GetMethod(nameof(StoreTwoTiles), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(typeof(T), typeof(TStorage));
        var config = new LaunchConfig(1, 32);
        KernelOnCpu.Run(cpu, kernel, config, args, interpreted);

        T[] stored = output.ToArray();
        Assert.Multiple(() =>
        {
            for (int row = 0; row < Rows; row++)
                for (int column = 0; column < Stride; column++)
                {
                    int r = row - Row0, col = column - Column0;
                    bool inside = r is >= 0 and < 16 && col is >= 0 and < 16;
                    // row r = g + 8h, column col = 8j + 2t + e
                    float expected = inside ? Value(4 * (r % 8) + col % 8 / 2, 4 * (col / 8) + 2 * (r / 8) + col % 2) : 0f;
                    Assert.That(widen(stored[row * Stride + column]), Is.EqualTo(expected), $"row {row}, column {column}");
                }
        });
    }
}
