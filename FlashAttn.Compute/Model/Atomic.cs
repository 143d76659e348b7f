using System.Runtime.CompilerServices;

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

    /// <summary>
    /// target[0 … 3] += (x, y, z, w), no result: one vector reduction <c>red.global.add.v4.f32</c> on sm_90 with PTX 8.1
    /// or newer, else four <c>red.global.add.f32</c>. Each element is added atomically on its own (the four are not one
    /// atomic unit). Device (global) memory only; <paramref name="target"/> must be 16-byte aligned and have three more
    /// floats after it. A quarter of the atomic instructions, and of their address arithmetic, of four scalar adds.
    /// </summary>
    [Intrinsic(IntrinsicOp.AtomicAddFour)]
    public static void AddFour(ref float target, float x, float y, float z, float w)
    {
        Add(ref target, x);
        Add(ref Unsafe.Add(ref target, 1), y);
        Add(ref Unsafe.Add(ref target, 2), z);
        Add(ref Unsafe.Add(ref target, 3), w);
    }

    /// <summary>
    /// target[0] += x, target[1] += y: two floats added by one <c>red.global.add.v2.f32</c> on sm_90 with PTX 8.1 or newer,
    /// else two <c>red.global.add.f32</c> (each element atomic on its own, as <see cref="AddFour"/>). Device memory only;
    /// <paramref name="target"/> must be 8-byte aligned.
    /// </summary>
    [Intrinsic(IntrinsicOp.AtomicAddTwo)]
    public static void AddTwo(ref float target, float x, float y)
    {
        Add(ref target, x);
        Add(ref Unsafe.Add(ref target, 1), y);
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
