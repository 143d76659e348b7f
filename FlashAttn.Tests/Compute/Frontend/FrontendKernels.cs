using FlashAttn.Compute;
using System.Runtime.CompilerServices;

namespace FlashAttn.Tests.Compute.Frontend;

public struct Accumulator
{
    public float Sum;
    public int Count;

    public void Add(float x)
    {
        Sum += x;
        Count++;
    }

    public readonly float Mean => Count == 0 ? 0f : Sum / Count;
}

public struct Params
{
    public int N;
    public float Scale;
    public ArrayView<float> Data;
    public bool Flag;
}

public interface IOp
{
    static abstract float Apply(float a, float b);
    float Bias();
}

public struct AddOp : IOp
{
    public static float Apply(float a, float b) => a + b;
    public float Bias() => 1f;
}

public struct MaxOp : IOp
{
    public static float Apply(float a, float b) => XMath.Max(a, b);
    public float Bias() => 2f;
}

public static class FrontendKernels
{
    private static readonly int s_readonlyConstant = 42;
    private static int s_mutable = 1;

    public static void Scalar(ArrayView<int> output, int a, int b)
    {
        int i = Grid.GlobalIndexX;
        output[i] = (a + b) * (a - b) / (b | 1) % 7 ^ (a << 2) >> 1;
        output[i + 1] = (int)((uint)a >> 3) + (int)((uint)a / (uint)(b | 1));
    }

    public static void Loops(ArrayView<float> data, int n)
    {
        float sum = 0;
        for (int i = 0; i < n; i++)
        {
            if (i == 3) continue;
            if (data[i] < 0) break;
            for (int j = 0; j < 4; j++) sum += data[i] * j;
        }
        int k = 0;
        while (k < n) k += 2;
        do { k--; } while (k > 0);
        data[0] = sum + k;
    }

    public static void Structs(ArrayView<float> data)
    {
        var acc = new Accumulator();
        for (int i = 0; i < data.Length; i++) acc.Add(data[i]);
        Accumulator copy = acc;
        copy.Add(1f);
        data[0] = acc.Mean + copy.Mean;
    }

    public static void StructParam(Params p, ArrayView<int> output)
    {
        if (p.Flag) p.Data[0] = p.Scale * p.N;
        output[0] = (int)p.Data.Length;
    }

    public static float Reduce<TOp>(float a, float b) where TOp : struct, IOp
        => TOp.Apply(a, b) + default(TOp).Bias();

    public static void Generic<TOp>(ArrayView<float> data) where TOp : struct, IOp
        => data[0] = Reduce<TOp>(data[1], data[2]);

    public static void Switch(ArrayView<int> data, int mode)
    {
        int r;
        switch (mode)
        {
            case 0: r = 10; break;
            case 1: r = 20; break;
            case 2: r = 35; break;
            case 3: r = 41; break;
            default: r = -1; break;
        }
        data[0] = r;
        data[1] = mode > 2 ? r * 2 : r + 1;
        data[2] = data[0] > 0 && data[1] < 100 ? 1 : 0;
    }

    public static void HalfMath(ArrayView<Half> data, ArrayView<BFloat16> bf)
    {
        Half a = data[0], b = data[1];
        data[2] = a * b + (Half)1.5f;
        data[3] = a < b ? a : -b;
        float f = (float)data[4];
        bf[0] = (BFloat16)(f + bf[1]);
    }

    public static void Shared(ArrayView<float> data)
    {
        var tile = SharedMemory.Allocate<float>(128);
        var vectors = SharedMemory.Allocate<Float4>(8);
        var dynamic = SharedMemory.GetDynamic<float>();
        var local = LocalMemory.Allocate<int>(4);
        int t = Group.IdxX;
        tile[t] = data[t];
        local[t & 3] = t;
        Group.Barrier();
        vectors[0] = new Float4(1, 2, 3, 4);
        dynamic[t] = tile[127 - t] + vectors[0].Y + local[1];
    }

    public static void Atomics(ArrayView<int> counters, ArrayView<float> sums)
    {
        Atomic.Add(ref counters[0], 1);
        int old = Atomic.CompareExchange(ref counters[1], 0, 5);
        Atomic.Add(ref sums[0], 2f);
        counters[2] = Atomic.Max(ref counters[3], old) + Warp.ShuffleXor(old, 1);
    }

    public static void Specialized(ArrayView<float> data, SpecializedValue<int> tile, float scale)
    {
        for (int i = 0; i < tile.Value; i++) data[i] *= scale;
    }

    public static void MathCalls(ArrayView<float> data, ArrayView<double> d)
    {
        float x = data[0];
        data[1] = MathF.Exp(x) + MathF.Sqrt(x) + MathF.Max(x, 1f) + MathF.FusedMultiplyAdd(x, x, 1f) + XMath.FastExp2(x);
        data[2] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(x) & 0x7fffffff);
        data[3] = float.IsNaN(x) ? 0 : Math.Clamp(x, 0f, 1f);
        d[0] = Math.Pow(d[1], 2.0) + s_readonlyConstant;
        data[4] = Unsafe.SizeOf<Float4>() + Math.Max(3u, (uint)data.Length);
    }

    public static unsafe void Pointers(ArrayView<float> data)
    {
        float* p = data.Pointer;
        float* q = p + 4;
        long distance = q - p;
        *(q + 1) = distance;
        ref float r = ref data[2];
        r += 1f;
        data[3] = data.SubView(1, 2)[0] + data.Cast<int>().Length;
    }

    // ---- unsupported constructs

    public static void UsesClass(ArrayView<int> data) => data[0] = new object().GetHashCode();
    public static void UsesArray(ArrayView<int> data) => data[0] = new int[4].Length;
    public static void UsesString(ArrayView<int> data) => data[0] = "hello".Length;
    public static void Throws(ArrayView<int> data)
    {
        if (data.Length == 0) throw new InvalidOperationException("empty");
    }
    public static void TryCatch(ArrayView<int> data)
    {
        try { data[0] = 1; }
        finally { data[1] = 2; }
    }
    public static void Checked(ArrayView<int> data, int a) => data[0] = checked(a * 3);
    public static void MutableStatic(ArrayView<int> data) => data[0] = s_mutable;
    public static int Factorial(int n) => n <= 1 ? 1 : n * Factorial(n - 1);
    public static void Recursive(ArrayView<int> data) => data[0] = Factorial(data[1]);
    public static void UsesDelegate(ArrayView<int> data)
    {
        Func<int, int> f = x => x + 1;
        data[0] = f(data[1]);
    }
    public static unsafe void StackAlloc(ArrayView<int> data)
    {
        int* p = stackalloc int[4];
        p[0] = 1;
        data[0] = p[0];
    }
}
