namespace FlashAttn.Compute;

/// <summary>Atomic read-modify-write operations on device or shared memory; each returns the old value.</summary>
public static class Atomic
{
    /// <summary>target += value (atom.add.s32).</summary>
    [Intrinsic(IntrinsicOp.AtomicAdd)]
    public static int Add(ref int target, int value) => Interlocked.Add(ref target, value) - value;

    /// <summary>target += value (atom.add.u32).</summary>
    [Intrinsic(IntrinsicOp.AtomicAdd)]
    public static uint Add(ref uint target, uint value) => Interlocked.Add(ref target, value) - value;

    /// <summary>target += value (atom.add.f32).</summary>
    [Intrinsic(IntrinsicOp.AtomicAdd)]
    public static float Add(ref float target, float value)
    {
        float old = Volatile.Read(ref target);
        while (true)
        {
            float seen = Interlocked.CompareExchange(ref target, old + value, old);
            if (BitConverter.SingleToInt32Bits(seen) == BitConverter.SingleToInt32Bits(old)) return old;
            old = seen;
        }
    }

    /// <summary>target = max(target, value) (atom.max.s32).</summary>
    [Intrinsic(IntrinsicOp.AtomicMax)]
    public static int Max(ref int target, int value)
    {
        int old = Volatile.Read(ref target);
        while (old < value)
        {
            int seen = Interlocked.CompareExchange(ref target, value, old);
            if (seen == old) break;
            old = seen;
        }
        return old;
    }

    /// <summary>target = min(target, value) (atom.min.s32).</summary>
    [Intrinsic(IntrinsicOp.AtomicMin)]
    public static int Min(ref int target, int value)
    {
        int old = Volatile.Read(ref target);
        while (old > value)
        {
            int seen = Interlocked.CompareExchange(ref target, value, old);
            if (seen == old) break;
            old = seen;
        }
        return old;
    }

    /// <summary>target = value (atom.exch.b32).</summary>
    [Intrinsic(IntrinsicOp.AtomicExchange)]
    public static int Exchange(ref int target, int value) => Interlocked.Exchange(ref target, value);

    /// <summary>If target == comparand then target = value (atom.cas.b32); returns the old target.</summary>
    [Intrinsic(IntrinsicOp.AtomicCompareExchange)]
    public static int CompareExchange(ref int target, int comparand, int value) => Interlocked.CompareExchange(ref target, value, comparand);
}
