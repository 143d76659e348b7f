using FlashAttn.Compute;

namespace FlashAttn.Tests.Compute.Corpus;

/// <summary>Corpus kernels: scalar arithmetic of every type, conversions, control flow.</summary>
internal static partial class Kernels
{
    public static void VectorAdd(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        int i = Grid.GlobalIndexX;
        if (i < c.Length) c[i] = a[i] + b[i];
    }

    /// <summary>One element loaded twice (value numbering merges the two), then written and loaded again: the
    /// last load must see the store, so it stays.</summary>
    public static void RepeatedLoads(ArrayView<float> a, ArrayView<float> c)
    {
        int i = Grid.GlobalIndexX;
        if (i >= c.Length) return;
        float x = a[i], y = a[i];
        a[i] = x + 1f;
        float z = a[i];
        c[i] = 3f * x + y + 0.5f * z;
    }

    public static int IntOps(int a, int b)
        => (a * 7 - b) / 3 + (a % 5) ^ (b << 2) >> 1 | (a & 0x55) + (-b) + ~a + (a >> 3) + (int)((uint)a >> 27);

    public static void IntArithmetic(ArrayView<int> a, ArrayView<int> b, ArrayView<int> c)
    {
        int i = Grid.GlobalIndexX;
        if (i >= c.Length) return;
        c[i] = IntOps(a[i], b[i]);
    }

    public static uint UIntOps(uint a, uint b) => a / (b | 1) + a % (b | 1) + (a >> 3) * 2654435761u + (b << 7) - (a ^ b);

    public static void UnsignedArithmetic(ArrayView<uint> a, ArrayView<uint> b, ArrayView<uint> c)
    {
        int i = Grid.GlobalIndexX;
        if (i < c.Length) c[i] = UIntOps(a[i], b[i]);
    }

    public static long LongOps(long a, int b) => a * b + (a >> 5) - (a / (b | 1)) + ((long)b << 40) + (a % 1000003L);

    public static void LongArithmetic(ArrayView<long> a, ArrayView<int> b, ArrayView<long> c)
    {
        int i = Grid.GlobalIndexX;
        if (i < c.Length) c[i] = LongOps(a[i], b[i]);
    }

    /// <summary>Division and remainder by powers of two (lowered to shifts and masks): C# rounds toward zero.</summary>
    public static long PowerOfTwoOps(int a, long b)
        => a / 2 + a % 2 * 3 + a / 32 * 5 + a % 32 * 7 + a / 1024 + a % 65536 * 11 + (int)((uint)a / 16u) + (int)((uint)a % 64u)
           + b / 4 + b % 8 * 13 + b / (1L << 40) + b % (1L << 33) + (long)((ulong)b / 128ul) + (long)((ulong)b % 4096ul);

    public static void PowerOfTwoDivision(ArrayView<int> a, ArrayView<long> b, ArrayView<long> c)
    {
        int i = Grid.GlobalIndexX;
        if (i < c.Length) c[i] = PowerOfTwoOps(a[i], b[i]);
    }

    /// <summary>A counted loop right after an if whose body holds a loop: its header has no preheader of its own.</summary>
    public static void LoopAfterBranch(ArrayView<float> a, ArrayView<int> flags, ArrayView<float> c)
    {
        int i = Grid.GlobalIndexX;
        if (i >= c.Length) return;
        var values = LocalMemory.Allocate<float>(8);
        for (int k = 0; k < 8; k++) values[k] = a[i] * (k + 1);
        if (flags[i] > 0)
            for (int k = 0; k < 8; k++)
                if ((flags[i] >> k & 1) != 0) values[k] = -values[k];
        float sum = 0f;
        for (int k = 0; k < 8; k++) sum += values[k] * (k - 3);
        c[i] = sum;
    }

    public static float LoopAfterBranchReference(float a, int flags)
    {
        float sum = 0f;
        for (int k = 0; k < 8; k++)
        {
            float value = a * (k + 1);
            if (flags > 0 && (flags >> k & 1) != 0) value = -value;
            sum += value * (k - 3);
        }
        return sum;
    }

    public static float FloatOps(float a, float b)
    {
        float t = a * b - a / b + (-a);
        t = a > b ? t * 0.5f : t + 1.25f;
        return t * t - (a - b) / (1f + b * b);
    }

    public static void FloatArithmetic(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        int i = Grid.GlobalIndexX;
        if (i < c.Length) c[i] = FloatOps(a[i], b[i]);
    }

    public static double DoubleOps(float a, double b) => (double)a * b + b / 3.0 - Math.Sqrt(b * b + 1.0) + (float)(b * 0.1);

    public static void DoubleArithmetic(ArrayView<float> a, ArrayView<double> b, ArrayView<double> c)
    {
        int i = Grid.GlobalIndexX;
        if (i < c.Length) c[i] = DoubleOps(a[i], b[i]);
    }

    public static Half HalfOps(Half a, Half b) => a * b + a - b / (Half)4;

    public static void HalfArithmetic(ArrayView<Half> a, ArrayView<Half> b, ArrayView<Half> c)
    {
        int i = Grid.GlobalIndexX;
        if (i < c.Length) c[i] = HalfOps(a[i], b[i]);
    }

    public static void HalfAndBFloat16Conversions(ArrayView<float> a, ArrayView<Half> h, ArrayView<BFloat16> bf, ArrayView<float> back)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length) return;
        float x = a[i] * 3.7f;
        h[i] = (Half)x;
        bf[i] = (BFloat16)x;
        back[i] = (float)h[i] + (float)bf[i];
    }

    public static void Conversions(ArrayView<float> a, ArrayView<int> toInt, ArrayView<float> fromUInt, ArrayView<double> fromLong, ArrayView<short> toShort, ArrayView<byte> toByte)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length) return;
        float x = a[i] * 1000f;
        int n = (int)x;
        toInt[i] = n;
        fromUInt[i] = (float)(uint)(n + 5000) * 0.5f;
        fromLong[i] = (double)((long)n * 1000003L);
        toShort[i] = (short)(n * 77);
        toByte[i] = (byte)n;
    }

    public static void NestedLoopsBreakContinue(ArrayView<int> limits, ArrayView<int> result)
    {
        int i = Grid.GlobalIndexX;
        if (i >= result.Length) return;
        int limit = limits[i];
        int sum = 0;
        for (int outer = 0; outer < 8; outer++)
        {
            for (int j = 0; j < 50; j++)
            {
                if (j % 3 == 0) continue;
                sum += j * (outer + 1);
                if (sum > limit) break;
            }
            if (sum > 4 * limit) break;
        }
        result[i] = sum;
    }

    public static void WhileLoop(ArrayView<int> starts, ArrayView<int> steps)
    {
        int i = Grid.GlobalIndexX;
        if (i >= steps.Length) return;
        long x = starts[i];
        int count = 0;
        while (x != 1 && count < 1000)
        {
            x = (x & 1) == 0 ? x / 2 : 3 * x + 1;
            count++;
        }
        steps[i] = count;
    }

    public static void Switch(ArrayView<int> a, ArrayView<int> c)
    {
        int i = Grid.GlobalIndexX;
        if (i >= c.Length) return;
        int v = a[i];
        int r;
        switch (v & 7)
        {
            case 0: r = v * 2; break;
            case 1: r = v + 100; break;
            case 2:
            case 3: r = -v; break;
            case 5: r = v ^ 0x1234; break;
            default: r = 7; break;
        }
        c[i] = r;
    }

    public static void BoolLogic(ArrayView<int> a, ArrayView<byte> flags, ArrayView<int> c)
    {
        int i = Grid.GlobalIndexX;
        if (i >= c.Length) return;
        int v = a[i];
        bool even = (v & 1) == 0;
        bool big = v > 300 || v < -300;
        bool flag = flags[i] != 0;
        bool x = (even && !big) || (flag ^ big);
        c[i] = x ? (even ? 1 : 2) : (flag && even ? 3 : 4);
    }

    public static void MultiDimensionalIndices(ArrayView<int> output)
    {
        int x = Grid.IdxX * Group.DimX + Group.IdxX;
        int y = Grid.IdxY * Group.DimY + Group.IdxY;
        int z = Grid.IdxZ * Group.DimZ + Group.IdxZ;
        int width = Grid.DimX * Group.DimX, height = Grid.DimY * Group.DimY;
        output[(z * height + y) * width + x] = x + 100 * y + 10000 * z;
    }
}
