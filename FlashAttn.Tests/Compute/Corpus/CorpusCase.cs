using System.Reflection;
using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Tests.Compute.Corpus;

/// <summary>
/// One corpus kernel: how to make its random inputs, how to launch it, and its plain C# reference.
/// The same case runs on the CPU accelerator, through the IR interpreter, and on CUDA when present;
/// its PTX is always generated and checked for structure.
/// </summary>
internal sealed class CorpusCase
{
    public required string Name { get; init; }

    /// <summary>The kernel method (closed if generic).</summary>
    public required MethodInfo Kernel { get; init; }

    /// <summary>Builds fresh inputs for one run from <paramref name="random"/>.</summary>
    public required Func<Random, CaseData> Create { get; init; }

    /// <summary>Structural checks on the kernel's PTX (e.g. no .local for register arrays).</summary>
    public Action<string>? CheckPtx { get; init; }

    /// <summary>True when the kernel's PTX must show no local-memory use (register arrays fully promoted).</summary>
    public bool ExpectNoLocalMemory { get; init; }

    public override string ToString() => Name;
}

/// <summary>Host data for one run: buffers (inputs random, outputs poisoned), launch shape, arguments, reference.</summary>
internal sealed class CaseData
{
    /// <summary>Host arrays, one per device buffer (float[], int[], uint[], long[], double[], Half[], BFloat16[], byte[], short[], Float4[]).</summary>
    public required Array[] Buffers { get; init; }

    /// <summary>Indices into <see cref="Buffers"/> that the kernel writes and the test compares.</summary>
    public required int[] Outputs { get; init; }

    public required LaunchConfig Config { get; init; }

    /// <summary>Kernel arguments given one view per buffer (as boxed ArrayView&lt;T&gt;).</summary>
    public required Func<object[], object[]> Arguments { get; init; }

    /// <summary>Writes the expected outputs into the given copies of the buffers (inputs already there).</summary>
    public required Action<Array[]> Reference { get; init; }

    /// <summary>Absolute-plus-relative tolerance for floating outputs (0: exact).</summary>
    public double Tolerance { get; init; }
}

/// <summary>Random data helpers: never zeros.</summary>
internal static class Data
{
    public static float[] Floats(Random r, int n, float lo = -2f, float hi = 2f)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++)
        {
            float v;
            do v = lo + (hi - lo) * r.NextSingle(); while (v == 0f);
            a[i] = v;
        }
        return a;
    }

    public static int[] Ints(Random r, int n, int lo = -1000, int hi = 1000)
    {
        var a = new int[n];
        for (int i = 0; i < n; i++)
        {
            int v;
            do v = r.Next(lo, hi); while (v == 0);
            a[i] = v;
        }
        return a;
    }

    public static T[] Poison<T>(int n, T value) => Enumerable.Repeat(value, n).ToArray();

    public static float[] PoisonFloats(int n) => Poison(n, float.NaN);

    public static int[] PoisonInts(int n) => Poison(n, unchecked((int)0xDEADBEEF));
}
