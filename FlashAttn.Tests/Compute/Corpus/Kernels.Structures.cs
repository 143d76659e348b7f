using FlashAttn.Compute;

namespace FlashAttn.Tests.Compute.Corpus;

/// <summary>A complex number with instance methods: struct locals, calls with <c>this</c> by reference.</summary>
internal struct Complex(float re, float im)
{
    public float Re = re, Im = im;

    public readonly Complex Square() => new(Re * Re - Im * Im, 2f * Re * Im);
    public readonly float MagnitudeSquared => Re * Re + Im * Im;
    public void Add(Complex other)
    {
        Re += other.Re;
        Im += other.Im;
    }
}

/// <summary>A kernel parameter struct holding views and scalars.</summary>
internal struct SaxpyArguments
{
    public ArrayView<float> X;
    public ArrayView<float> Y;
    public float Alpha;
    public int Count;
}

/// <summary>Element operations selected at compile time through static abstract interface members.</summary>
internal interface IElement<T> where T : unmanaged
{
    static abstract float Load(T value);
    static abstract T Store(float value);
}

internal struct FloatElement : IElement<float>
{
    public static float Load(float value) => value;
    public static float Store(float value) => value;
}

internal struct HalfElement : IElement<Half>
{
    public static float Load(Half value) => (float)value;
    public static Half Store(float value) => (Half)value;
}

/// <summary>A compile-time policy: folded away by the compiler.</summary>
internal interface IRoundingPolicy
{
    static abstract bool RoundToInteger { get; }
}

internal struct Round : IRoundingPolicy { public static bool RoundToInteger => true; }
internal struct NoRound : IRoundingPolicy { public static bool RoundToInteger => false; }

internal static partial class Kernels
{
    public static void StructLocals(ArrayView<float> re, ArrayView<float> im, ArrayView<int> iterations)
    {
        int i = Grid.GlobalIndexX;
        if (i >= iterations.Length) return;
        var c = new Complex(re[i], im[i]);
        var z = new Complex(0f, 0f);
        int n = 0;
        while (n < 64 && z.MagnitudeSquared <= 4f)
        {
            z = z.Square();
            z.Add(c);
            n++;
        }
        iterations[i] = n;
    }

    public static void StructParameter(SaxpyArguments args)
    {
        int i = Grid.GlobalIndexX;
        if (i < args.Count) args.Y[i] = args.Alpha * args.X[i] + args.Y[i];
    }

    private static void Swap(ref float a, ref float b) => (a, b) = (b, a);

    private static void MinMax(float a, float b, out float min, out float max)
    {
        min = a < b ? a : b;
        max = a < b ? b : a;
    }

    public static void HelpersWithRefAndOut(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        int i = Grid.GlobalIndexX;
        if (i >= c.Length) return;
        float x = a[i], y = b[i];
        if (x > 0f) Swap(ref x, ref y);
        MinMax(x, y, out float lo, out float hi);
        c[i] = hi * 10f + lo;
    }

    /// <summary>A local function that captures locals of mixed sizes (a bool, a byte, an int, a float, a view) and writes one:
    /// the C# compiler passes them in a display struct of automatic layout, by reference.</summary>
    public static void CapturingLocalFunction(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        int i = Grid.GlobalIndexX;
        if (i >= c.Length) return;
        // captured in this order, a byte, then a 16-byte view, then a byte and two 4-byte values: .NET packs the display
        // struct differently from this order
        bool negative = a[i] < 0f;
        var others = b;
        byte shift = (byte)(i % 3);
        float scale = 0.5f, sum = 0f;
        void Add(int index)
        {
            float x = index < 0 ? a[i] : others[index];
            sum += (negative ? -x : x) * scale + shift;
            scale *= 2f;
        }
        Add(-1);
        Add(i);
        Add((int)((i + 1) % others.Length));
        c[i] = sum;
    }

    public static void GenericScale<T, TElement>(ArrayView<T> input, ArrayView<T> output, float scale)
        where T : unmanaged where TElement : struct, IElement<T>
    {
        int i = Grid.GlobalIndexX;
        if (i < output.Length) output[i] = TElement.Store(TElement.Load(input[i]) * scale + 1f);
    }

    public static void GenericPolicy<TPolicy>(ArrayView<float> input, ArrayView<float> output) where TPolicy : struct, IRoundingPolicy
    {
        int i = Grid.GlobalIndexX;
        if (i >= output.Length) return;
        float v = input[i] * 10f;
        output[i] = TPolicy.RoundToInteger ? XMath.Round(v) : v;
    }
}
