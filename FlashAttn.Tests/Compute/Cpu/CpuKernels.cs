using FlashAttn.Compute;

namespace FlashAttn.Tests.Compute.Cpu;

/// <summary>Kernels run by the CPU accelerator tests.</summary>
internal static class CpuKernels
{
    /// <summary>Writes 1 at the view's last element and its 64-bit length, halved, beside the first: a view past 2³¹ elements.</summary>
    public static void MarkLastOfLongView(ArrayView<byte> view, ArrayView<long> lengths)
    {
        view[view.Length - 1] = 1;
        lengths[0] = view.Length;
        lengths[1] = view.SubView(view.Length / 2, view.Length - view.Length / 2).Length;
    }

    public static void VectorAdd(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, int n)
    {
        int i = Grid.GlobalIndexX;
        if (i < n) c[i] = a[i] + b[i];
    }

    public const int Tile = 16;

    // out[x, y] = in[y, x]; in is rows × cols (row-major), out is cols × rows.
    public static void Transpose(ArrayView<float> input, ArrayView<float> output, int rows, int cols)
    {
        var tile = SharedMemory.Allocate<float>(Tile * (Tile + 1));
        int x = Grid.IdxX * Tile + Group.IdxX;
        int y = Grid.IdxY * Tile + Group.IdxY;
        if (x < cols && y < rows) tile[Group.IdxY * (Tile + 1) + Group.IdxX] = input[y * cols + x];
        Group.Barrier();
        int tx = Grid.IdxY * Tile + Group.IdxX;
        int ty = Grid.IdxX * Tile + Group.IdxY;
        if (tx < rows && ty < cols) output[ty * rows + tx] = tile[Group.IdxX * (Tile + 1) + Group.IdxY];
    }

    // One partial sum per group, tree reduction in shared memory.
    public static void BlockSum(ArrayView<float> input, ArrayView<float> sums)
    {
        var partial = SharedMemory.Allocate<float>(256);
        int t = Group.IdxX;
        int i = Grid.GlobalIndexX;
        partial[t] = i < input.Length ? input[i] : 0f;
        Group.Barrier();
        for (int stride = Group.DimX / 2; stride > 0; stride /= 2)
        {
            if (t < stride) partial[t] += partial[t + stride];
            Group.Barrier();
        }
        if (t == 0) sums[Grid.IdxX] = partial[0];
    }

    public static void Shuffles(ArrayView<int> input, ArrayView<int> output, int lane, int delta, int mask)
    {
        int t = Grid.GlobalIndexX;
        int v = input[t];
        output[4 * t + 0] = Warp.Shuffle(v, lane + Group.IdxX % 3); // varies per lane
        output[4 * t + 1] = Warp.ShuffleXor(v, mask);
        output[4 * t + 2] = Warp.ShuffleUp(v, delta);
        output[4 * t + 3] = Warp.ShuffleDown(v, delta);
    }

    public static void WarpReductions(ArrayView<float> input, ArrayView<float> sums, ArrayView<float> maxima, ArrayView<int> intSums)
    {
        int t = Grid.GlobalIndexX;
        float v = input[t];
        sums[t] = Warp.Sum(v);
        maxima[t] = Warp.Max(v);
        intSums[t] = Warp.Sum((int)(v * 100));
    }

    public static void Atomics(ArrayView<int> values, ArrayView<int> counters, ArrayView<float> floatSum, ArrayView<int> casCounter)
    {
        int t = Grid.GlobalIndexX;
        int v = values[t];
        Atomic.Add(ref counters[0], v);
        Atomic.Max(ref counters[1], v);
        Atomic.Min(ref counters[2], v);
        Atomic.Add(ref floatSum[0], 0.25f);
        // Increment through a compare-exchange loop.
        int seen = casCounter[0];
        while (true)
        {
            int old = Atomic.CompareExchange(ref casCounter[0], seen, seen + 1);
            if (old == seen) break;
            seen = old;
        }
    }

    public static void EarlyReturn(ArrayView<int> output)
    {
        if (Group.IdxX == 5) return;
        Group.Barrier();
        output[Group.IdxX] = 1;
    }

    public static void EarlyReturnAfterOthersPass(ArrayView<int> output)
    {
        Group.Barrier();
        if (Group.IdxX == 7) return;
        Group.Barrier();
        output[Group.IdxX] = 1;
    }

    public static void EarlyReturnBeforeAShuffle(ArrayView<int> output)
    {
        if (Group.IdxX == 37) return;
        output[Group.IdxX] = Warp.Sum(1);
    }

    public static void MixedBarriers(ArrayView<int> output)
    {
        if (Group.IdxX % 2 == 0) Group.Barrier();
        else Warp.Barrier();
        output[Group.IdxX] = 1;
    }

    public static void Throws(ArrayView<int> output)
    {
        Group.Barrier();
        if (Grid.IdxX == 1 && Group.IdxX == 3) throw new ArithmeticException("kernel thread failed on purpose");
        Group.Barrier();
        output[Grid.GlobalIndexX] = 1;
    }

    public static void ManyBarriers(ArrayView<int> output, int count)
    {
        var shared = SharedMemory.Allocate<int>(1);
        if (Group.IdxX == 0) shared[0] = 0;
        Group.Barrier();
        for (int i = 0; i < count; i++)
        {
            if (Group.IdxX == i % Group.DimX) shared[0] += 1;
            Group.Barrier();
        }
        output[Group.IdxX] = shared[0];
    }

    // Reverses each group's slice through dynamic shared memory.
    public static void DynamicReverse(ArrayView<float> input, ArrayView<float> output)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int t = Group.IdxX;
        int n = Group.DimX;
        shared[t] = input[Grid.IdxX * n + t];
        Group.Barrier();
        output[Grid.IdxX * n + t] = shared[n - 1 - t];
    }

    public static void DynamicLength(ArrayView<int> output) => output[Grid.GlobalIndexX] = (int)SharedMemory.GetDynamic<double>().Length;

    // Each thread computes a prefix sum of its 8 inputs in local memory, then writes it reversed.
    public static void LocalPrefix(ArrayView<int> input, ArrayView<int> output)
    {
        int t = Grid.GlobalIndexX;
        var local = LocalMemory.Allocate<int>(8);
        int zeros = 0;
        for (int k = 0; k < 8; k++) zeros += local[k] == 0 ? 1 : 0;
        int sum = 0;
        for (int k = 0; k < 8; k++)
        {
            sum += input[8 * t + k];
            local[k] = sum;
        }
        for (int k = 0; k < 8; k++) output[8 * t + k] = local[7 - k] + (zeros == 8 ? 0 : 1_000_000);
    }

    public static void BarrierPredicates(ArrayView<int> input, ArrayView<int> output)
    {
        int t = Group.IdxX;
        bool p = input[Grid.GlobalIndexX] > 0;
        int count = Group.BarrierPopCount(p);
        bool all = Group.BarrierAnd(p);
        bool any = Group.BarrierOr(p);
        if (t == 0)
        {
            output[3 * Grid.IdxX] = count;
            output[3 * Grid.IdxX + 1] = all ? 1 : 0;
            output[3 * Grid.IdxX + 2] = any ? 1 : 0;
        }
    }

    public static void Specialized(ArrayView<int> output, SpecializedValue<int> factor)
    {
        int t = Grid.GlobalIndexX;
        output[t] = t * factor.Value;
    }

    public static void Indices(ArrayView<int> output)
    {
        int linear = Group.LinearIndex;
        int g = Grid.IdxX + Grid.DimX * (Grid.IdxY + Grid.DimY * Grid.IdxZ);
        int groupSize = Group.DimX * Group.DimY * Group.DimZ;
        int i = g * groupSize + linear;
        output[i] = Warp.LaneIdx + 100 * Warp.WarpIdx + 10_000 * g;
    }
}
