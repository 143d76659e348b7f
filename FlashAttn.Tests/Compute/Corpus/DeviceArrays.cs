using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Tests.Compute.Corpus;

/// <summary>A host array uploaded to an accelerator, whatever its element type.</summary>
internal interface IDeviceArray : IDisposable
{
    /// <summary>The boxed <see cref="ArrayView{T}"/> to pass as a kernel argument.</summary>
    object View { get; }

    /// <summary>Copies the device contents back into a new host array.</summary>
    Array Download();
}

internal static class DeviceArrays
{
    /// <summary>Uploads by the array's exact element type (the CLR lets an int[] match a uint[] pattern).</summary>
    public static IDeviceArray Upload(Accelerator accelerator, Array host)
    {
        var make = typeof(DeviceArrays).GetMethod(nameof(Make), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(host.GetType().GetElementType()!);
        return (IDeviceArray)make.Invoke(null, [accelerator, host])!;
    }

    private static IDeviceArray Make<T>(Accelerator accelerator, Array host) where T : unmanaged
        => new DeviceArray<T>(accelerator, (T[])host);

    private sealed class DeviceArray<T> : IDeviceArray where T : unmanaged
    {
        private readonly MemoryBuffer<T> _buffer;

        public DeviceArray(Accelerator accelerator, T[] host)
        {
            _buffer = accelerator.Allocate<T>(host.Length);
            _buffer.CopyFromHost(host);
        }

        public object View => _buffer.View;

        public Array Download() => _buffer.ToArray();

        public void Dispose() => _buffer.Dispose();
    }
}

/// <summary>Compares kernel outputs with the reference, element by element.</summary>
internal static class OutputComparer
{
    public static void AssertEqual(string what, Array expected, Array actual, double tolerance)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), $"{what}: length");
        for (int i = 0; i < expected.Length; i++)
        {
            object e = expected.GetValue(i)!, a = actual.GetValue(i)!;
            if (e is Float4 ef && a is Float4 af)
            {
                AssertClose(what, i, ef.X, af.X, tolerance); AssertClose(what, i, ef.Y, af.Y, tolerance);
                AssertClose(what, i, ef.Z, af.Z, tolerance); AssertClose(what, i, ef.W, af.W, tolerance);
                continue;
            }
            double? ed = AsDouble(e), ad = AsDouble(a);
            if (ed is not null && ad is not null)
                AssertClose(what, i, ed.Value, ad.Value, tolerance);
            else if (!Equals(e, a))
                Assert.Fail($"{what}[{i}]: expected {e}, got {a}");
        }
    }

    private static double? AsDouble(object v) => v switch
    {
        float f => f,
        double d => d,
        Half h => (double)h,
        BFloat16 b => (float)b,
        _ => null,
    };

    private static void AssertClose(string what, int i, double expected, double actual, double tolerance)
    {
        bool ok = tolerance == 0
            ? expected.Equals(actual)
            : !double.IsNaN(actual) && Math.Abs(expected - actual) <= tolerance * (1 + Math.Abs(expected));
        if (!ok) Assert.Fail($"{what}[{i}]: expected {expected:R}, got {actual:R} (tolerance {tolerance})");
    }
}
