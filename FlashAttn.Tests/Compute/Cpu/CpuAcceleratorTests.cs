using System.Diagnostics;
using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Tests.Compute.Cpu;

public class CpuAcceleratorTests
{
    private CpuAccelerator _accelerator = null!;

    [OneTimeSetUp]
    public void Create() => _accelerator = new CpuAccelerator();

    [OneTimeTearDown]
    public void Destroy() => _accelerator.Dispose();

    private MemoryBuffer<T> Upload<T>(T[] data) where T : unmanaged
    {
        var buffer = _accelerator.Allocate<T>(data.Length);
        buffer.CopyFromHost(data);
        return buffer;
    }

    private static float[] RandomFloats(int n, int seed) { var r = new Random(seed); return [.. Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) + 0.01f)]; }
    private static int[] RandomInts(int n, int seed, int min = -1000, int max = 1000) { var r = new Random(seed); return [.. Enumerable.Range(0, n).Select(_ => r.Next(min, max) | 1)]; }

    [Test]
    public void InfoMirrorsTheGpuLimits()
    {
        Assert.That(_accelerator.Kind, Is.EqualTo(AcceleratorKind.Cpu));
        Assert.That(_accelerator.Info.WarpSize, Is.EqualTo(32));
        Assert.That(_accelerator.Info.MaxGroupSize, Is.EqualTo(1024));
        Assert.That(_accelerator.Info.MaxSharedMemoryPerGroup, Is.EqualTo(232448));
        Assert.That(_accelerator.Info.MultiprocessorCount, Is.EqualTo(Environment.ProcessorCount));
    }

    [Test]
    public void ViewsHoldMoreThanTwoToThe31Elements()
    {
        // a KV cache of b = 16 × 131,072 keys × 8 heads × 128 dims is 2³¹ elements: views are 64-bit long
        const long length = int.MaxValue + 17L;
        using var accelerator = new CpuAccelerator();
        using var big = accelerator.Allocate<byte>(length);
        using var lengths = accelerator.Allocate<long>(2);
        Assert.That(big.View.Length, Is.EqualTo(length));
        Assert.That(big.View.Cast<int>().Length, Is.EqualTo(length / 4));
        accelerator.LoadKernel(CpuKernels.MarkLastOfLongView).Launch(1, 1, big.View, lengths.View);
        accelerator.Synchronize();
        unsafe { Assert.That(big.View.Pointer[length - 1], Is.EqualTo(1)); }
        Assert.That(lengths.ToArray(), Is.EqualTo(new[] { length, length - length / 2 }));
        Assert.Throws<IndexOutOfRangeException>(() => _ = big.View[length]);
    }

    [Test]
    public void AllocationIsCountedAndAligned()
    {
        using var accelerator = new CpuAccelerator();
        var a = accelerator.Allocate<float>(1000);
        var b = accelerator.Allocate<double>(10);
        Assert.That(accelerator.AllocatedBytes, Is.EqualTo(4080));
        a.Dispose();
        Assert.That(accelerator.AllocatedBytes, Is.EqualTo(80));
        Assert.That(accelerator.PeakAllocatedBytes, Is.EqualTo(4080));
        accelerator.ResetPeakAllocatedBytes();
        Assert.That(accelerator.PeakAllocatedBytes, Is.EqualTo(80));
        unsafe { Assert.That((long)b.View.Pointer % 256, Is.Zero); }
        b.MemSet(0x3F);
        Assert.That(BitConverter.DoubleToInt64Bits(b.ToArray()[3]), Is.EqualTo(0x3F3F3F3F3F3F3F3F));
        var c = accelerator.Allocate<double>(10);
        c.CopyFrom(b);
        Assert.That(c.ToArray(), Is.EqualTo(b.ToArray()));
        b.Dispose();
        c.Dispose();
        Assert.That(accelerator.AllocatedBytes, Is.Zero);
    }

    [Test]
    public void VectorAdd()
    {
        const int n = 1000;
        float[] a = RandomFloats(n, 1), b = RandomFloats(n, 2);
        using var da = Upload(a);
        using var db = Upload(b);
        using var dc = _accelerator.Allocate<float>(n);
        _accelerator.LoadKernel(CpuKernels.VectorAdd).Launch(XMath.DivUp(n, 128), 128, da.View, db.View, dc.View, n);
        Assert.That(dc.ToArray(), Is.EqualTo(a.Zip(b, (x, y) => x + y).ToArray()));
    }

    [Test]
    public void IndicesCoverThreeDimensionalLaunches()
    {
        var config = new LaunchConfig(new Dim3(2, 3, 2), new Dim3(8, 4, 2));
        int total = 12 * 64;
        using var output = _accelerator.Allocate<int>(total);
        _accelerator.LoadKernel(CpuKernels.Indices).Launch(config, output.View);
        var expected = Enumerable.Range(0, total).Select(i => i % 64 % 32 + 100 * (i % 64 / 32) + 10_000 * (i / 64));
        Assert.That(output.ToArray(), Is.EqualTo(expected.ToArray()));
    }

    [Test]
    public void TiledTransposeWithSharedMemoryAndBarriers()
    {
        const int rows = 40, cols = 56;
        float[] input = RandomFloats(rows * cols, 3);
        using var di = Upload(input);
        using var output = _accelerator.Allocate<float>(rows * cols);
        var config = new LaunchConfig(new Dim3(XMath.DivUp(cols, CpuKernels.Tile), XMath.DivUp(rows, CpuKernels.Tile)), new Dim3(CpuKernels.Tile, CpuKernels.Tile));
        _accelerator.LoadKernel(CpuKernels.Transpose).Launch(config, di.View, output.View, rows, cols);
        var result = output.ToArray();
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < cols; x++)
                Assert.That(result[x * rows + y], Is.EqualTo(input[y * cols + x]));
    }

    [Test]
    public void BlockReductionWithBarriers()
    {
        const int n = 1500, groups = 6;
        float[] input = RandomFloats(n, 4);
        using var di = Upload(input);
        using var sums = _accelerator.Allocate<float>(groups);
        _accelerator.LoadKernel(CpuKernels.BlockSum).Launch(groups, 256, di.View, sums.View);
        var result = sums.ToArray();
        for (int g = 0; g < groups; g++)
        {
            double expected = input.Skip(256 * g).Take(256).Sum(x => (double)x);
            Assert.That(result[g], Is.EqualTo(expected).Within(1e-4));
        }
    }

    [TestCase(64, 3, 5, 9)]
    [TestCase(64, 31, 1, 16)]
    [TestCase(64, 0, 31, 31)]
    [TestCase(40, 7, 3, 12)]   // partial last warp of 8 lanes
    public void ShufflesMatchTheReference(int groupSize, int lane, int delta, int mask)
    {
        int n = 2 * groupSize;
        int[] input = RandomInts(n, 5);
        using var di = Upload(input);
        using var output = _accelerator.Allocate<int>(4 * n);
        _accelerator.LoadKernel(CpuKernels.Shuffles).Launch(2, groupSize, di.View, output.View, lane, delta, mask);
        var result = output.ToArray();
        for (int t = 0; t < n; t++)
        {
            int g = t / groupSize, local = t % groupSize, warpBase = g * groupSize + local / 32 * 32, my = local % 32;
            int lanes = Math.Min(32, groupSize - local / 32 * 32);
            int Read(int source) => source >= 0 && source < lanes ? input[warpBase + source] : input[t];
            Assert.That(result[4 * t + 0], Is.EqualTo(Read((lane + local % 3) & 31)), $"idx t={t}");
            Assert.That(result[4 * t + 1], Is.EqualTo(Read(my ^ mask)), $"xor t={t}");
            Assert.That(result[4 * t + 2], Is.EqualTo(Read(my - delta)), $"up t={t}");
            Assert.That(result[4 * t + 3], Is.EqualTo(Read(my + delta)), $"down t={t}");
        }
    }

    [Test]
    public void WarpSumAndMax()
    {
        const int n = 128;
        float[] input = RandomFloats(n, 6);
        using var di = Upload(input);
        using var sums = _accelerator.Allocate<float>(n);
        using var maxima = _accelerator.Allocate<float>(n);
        using var intSums = _accelerator.Allocate<int>(n);
        _accelerator.LoadKernel(CpuKernels.WarpReductions).Launch(2, 64, di.View, sums.View, maxima.View, intSums.View);
        float[] s = sums.ToArray(), m = maxima.ToArray();
        int[] si = intSums.ToArray();
        for (int t = 0; t < n; t++)
        {
            var warp = input.Skip(t / 32 * 32).Take(32).ToArray();
            Assert.That(s[t], Is.EqualTo(warp.Sum(x => (double)x)).Within(1e-4));
            Assert.That(m[t], Is.EqualTo(warp.Max()));
            Assert.That(si[t], Is.EqualTo(warp.Sum(x => (int)(x * 100))));
        }
    }

    [Test]
    public void AtomicsFromManyThreads()
    {
        const int groups = 8, size = 128, n = groups * size;
        int[] values = RandomInts(n, 7);
        using var dv = Upload(values);
        using var counters = Upload(new[] { 0, int.MinValue, int.MaxValue });
        using var floatSum = Upload(new[] { 0f });
        using var cas = Upload(new[] { 0 });
        _accelerator.LoadKernel(CpuKernels.Atomics).Launch(groups, size, dv.View, counters.View, floatSum.View, cas.View);
        Assert.That(counters.ToArray(), Is.EqualTo(new[] { values.Sum(), values.Max(), values.Min() }));
        Assert.That(floatSum.ToArray()[0], Is.EqualTo(n * 0.25f));
        Assert.That(cas.ToArray()[0], Is.EqualTo(n));
    }

    private void LaunchWithTimeout(Action launch, out Exception? failure)
    {
        var task = Task.Run(launch);
        Assert.That(((IAsyncResult)task).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(20)), Is.True, "the launch hung");
        failure = task.Exception?.InnerException;
    }

    [Test]
    public void ThreadReturningWhileOthersWaitFailsWithoutHanging()
    {
        using var output = _accelerator.Allocate<int>(64);
        var kernel = _accelerator.LoadKernel(CpuKernels.EarlyReturn);
        LaunchWithTimeout(() => kernel.Launch(3, 64, output.View), out var failure);
        Assert.That(failure, Is.TypeOf<InvalidOperationException>());
        Assert.That(failure!.Message, Does.Contain("barrier").And.Contain("thread 5").And.Contain("group ("));
    }

    [Test]
    public void ThreadReturningBeforeALaterBarrierFails()
    {
        using var output = _accelerator.Allocate<int>(64);
        var kernel = _accelerator.LoadKernel(CpuKernels.EarlyReturnAfterOthersPass);
        LaunchWithTimeout(() => kernel.Launch(2, 64, output.View), out var failure);
        Assert.That(failure, Is.TypeOf<InvalidOperationException>());
        Assert.That(failure!.Message, Does.Contain("thread 7"));
    }

    [Test]
    public void LaneReturningBeforeAShuffleFails()
    {
        using var output = _accelerator.Allocate<int>(64);
        var kernel = _accelerator.LoadKernel(CpuKernels.EarlyReturnBeforeAShuffle);
        LaunchWithTimeout(() => kernel.Launch(2, 64, output.View), out var failure);
        Assert.That(failure, Is.TypeOf<InvalidOperationException>());
        Assert.That(failure!.Message, Does.Contain("thread 37 ").And.Contain("warp"));
    }

    [Test]
    public void MixedGroupAndWarpBarriersFailWithoutHanging()
    {
        using var output = _accelerator.Allocate<int>(64);
        var kernel = _accelerator.LoadKernel(CpuKernels.MixedBarriers);
        LaunchWithTimeout(() => kernel.Launch(1, 64, output.View), out var failure);
        Assert.That(failure, Is.TypeOf<InvalidOperationException>());
        Assert.That(failure!.Message, Does.Contain("never complete"));
    }

    [Test]
    public void ExceptionInAKernelThreadPropagates()
    {
        using var output = _accelerator.Allocate<int>(4 * 64);
        var kernel = _accelerator.LoadKernel(CpuKernels.Throws);
        LaunchWithTimeout(() => kernel.Launch(4, 64, output.View), out var failure);
        Assert.That(failure, Is.TypeOf<ArithmeticException>());
        Assert.That(failure!.Message, Is.EqualTo("kernel thread failed on purpose"));
        // The accelerator still works afterwards.
        VectorAdd();
    }

    [Test]
    public void OutOfBoundsIndexPropagates()
    {
        using var output = _accelerator.Allocate<int>(10);
        var kernel = _accelerator.LoadKernel(CpuKernels.Specialized);
        LaunchWithTimeout(() => kernel.Launch(1, 32, output.View, new SpecializedValue<int>(3)), out var failure);
        Assert.That(failure, Is.TypeOf<IndexOutOfRangeException>());
    }

    [Test]
    public void SpecializedValuesArePassedThrough()
    {
        using var output = _accelerator.Allocate<int>(64);
        _accelerator.LoadKernel(CpuKernels.Specialized).Launch(2, 32, output.View, SpecializedValue.New(7));
        Assert.That(output.ToArray(), Is.EqualTo(Enumerable.Range(0, 64).Select(i => 7 * i).ToArray()));
    }

    [Test]
    public void BarrierThroughput()
    {
        const int threads = 256, barriers = 1000;
        using var output = _accelerator.Allocate<int>(threads);
        var kernel = _accelerator.LoadKernel(CpuKernels.ManyBarriers);
        kernel.Launch(1, threads, output.View, 10); // warm up
        var watch = Stopwatch.StartNew();
        kernel.Launch(1, threads, output.View, barriers);
        watch.Stop();
        TestContext.Out.WriteLine($"{threads} threads x {barriers} barriers: {watch.Elapsed.TotalMilliseconds:F0} ms");
        Assert.That(output.ToArray(), Is.All.EqualTo(barriers));
        // a guard against a pathological barrier (a sleep or an OS wait per arrival: minutes), not a benchmark: the bound
        // leaves room for a 2-core CI machine shared with other work (2.2 s seen there under a parallel build, 2026-12-05)
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(15)));
    }

    [Test]
    public void BarrierPredicates()
    {
        const int groups = 3, size = 96;
        int[] input = RandomInts(groups * size, 8, 1, 100);
        for (int i = 0; i < size; i++) input[i] = 5;               // group 0: all true
        for (int i = size; i < 2 * size; i++) input[i] = -input[i]; // group 1: all false
        input[2 * size + 4] = -1;                                  // group 2: mixed
        using var di = Upload(input);
        using var output = _accelerator.Allocate<int>(3 * groups);
        _accelerator.LoadKernel(CpuKernels.BarrierPredicates).Launch(groups, size, di.View, output.View);
        Assert.That(output.ToArray(), Is.EqualTo(new[] { size, 1, 1, 0, 0, 0, size - 1, 0, 1 }));
    }

    [Test]
    public void DynamicSharedMemory()
    {
        const int size = 128, groups = 5;
        float[] input = RandomFloats(size * groups, 9);
        using var di = Upload(input);
        using var output = _accelerator.Allocate<float>(size * groups);
        _accelerator.LoadKernel(CpuKernels.DynamicReverse).Launch(new LaunchConfig(groups, size, size * sizeof(float)), di.View, output.View);
        var result = output.ToArray();
        for (int i = 0; i < input.Length; i++)
            Assert.That(result[i], Is.EqualTo(input[i / size * size + size - 1 - i % size]));

        using var lengths = _accelerator.Allocate<int>(64);
        _accelerator.LoadKernel(CpuKernels.DynamicLength).Launch(new LaunchConfig(2, 32, 100 * 1024), lengths.View);
        Assert.That(lengths.ToArray(), Is.All.EqualTo(100 * 1024 / 8));
    }

    [Test]
    public void LocalMemoryIsPerThreadAndZeroed()
    {
        const int n = 2 * 64;
        int[] input = RandomInts(8 * n, 10);
        using var di = Upload(input);
        using var output = _accelerator.Allocate<int>(8 * n);
        _accelerator.LoadKernel(CpuKernels.LocalPrefix).Launch(2, 64, di.View, output.View);
        var result = output.ToArray();
        for (int t = 0; t < n; t++)
        {
            int[] prefix = new int[8];
            int sum = 0;
            for (int k = 0; k < 8; k++) prefix[k] = sum += input[8 * t + k];
            for (int k = 0; k < 8; k++) Assert.That(result[8 * t + k], Is.EqualTo(prefix[7 - k]));
        }
    }

    [Test]
    public void ManyGroupsReuseWorkerThreads()
    {
        const int n = 64 * 200;
        float[] a = RandomFloats(n, 11), b = RandomFloats(n, 12);
        using var da = Upload(a);
        using var db = Upload(b);
        using var dc = _accelerator.Allocate<float>(n);
        var kernel = _accelerator.LoadKernel(CpuKernels.VectorAdd);
        kernel.Launch(n / 64, 64, da.View, db.View, dc.View, n);
        int created = CpuWorker.Created;
        kernel.Launch(n / 64, 64, da.View, db.View, dc.View, n);
        Assert.That(dc.ToArray(), Is.EqualTo(a.Zip(b, (x, y) => x + y).ToArray()));
        Assert.That(CpuWorker.Created, Is.LessThanOrEqualTo(created + 64));
    }
}
