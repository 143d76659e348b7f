using System.Runtime.InteropServices;

namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// Wait-on-address for the CPU runtime's barriers: <see cref="Wait"/> blocks while a 32-bit word in native
/// memory still holds an expected value, <see cref="WakeAll"/> wakes every thread waiting on it with one
/// call. Linux uses the futex system call, Windows WaitOnAddress; elsewhere a striped monitor fallback.
/// Waiters get no lost wake-ups (the word is compared atomically with going to sleep) but may return
/// spuriously, so they recheck their condition in a loop.
/// </summary>
internal static unsafe class CpuFutex
{
    private const int FutexWaitPrivate = 128;
    private const int FutexWakePrivate = 129;

    private static readonly delegate* unmanaged<nint, int*, int, int, void*, void*, int, nint> s_syscall;
    private static readonly nint s_futexNumber;
    private static readonly delegate* unmanaged<void*, void*, nuint, uint, int> s_waitOnAddress;
    private static readonly delegate* unmanaged<void*, void> s_wakeByAddressAll;
    private static readonly object[] s_stripes = [.. Enumerable.Range(0, 64).Select(_ => new object())];

    static CpuFutex()
    {
        if (OperatingSystem.IsLinux())
        {
            s_futexNumber = RuntimeInformation.ProcessArchitecture switch
            {
                Architecture.X64 => 202,
                Architecture.Arm64 => 98,
                _ => 0,
            };
            if (s_futexNumber != 0)
                foreach (var name in new[] { "libc.so.6", "libc", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1" })
                    if (NativeLibrary.TryLoad(name, out var libc) && NativeLibrary.TryGetExport(libc, "syscall", out var syscall))
                    {
                        s_syscall = (delegate* unmanaged<nint, int*, int, int, void*, void*, int, nint>)syscall;
                        break;
                    }
        }
        else if (OperatingSystem.IsWindows()
            && NativeLibrary.TryLoad("api-ms-win-core-synch-l1-2-0.dll", out var synch)
            && NativeLibrary.TryGetExport(synch, "WaitOnAddress", out var wait)
            && NativeLibrary.TryGetExport(synch, "WakeByAddressAll", out var wake))
        {
            s_waitOnAddress = (delegate* unmanaged<void*, void*, nuint, uint, int>)wait;
            s_wakeByAddressAll = (delegate* unmanaged<void*, void>)wake;
        }
    }

    /// <summary>Which mechanism is in use, for diagnostics.</summary>
    public static string Mechanism => s_syscall != null ? "futex" : s_waitOnAddress != null ? "WaitOnAddress" : "monitor";

    /// <summary>Blocks while <c>*address == expected</c> (may return spuriously).</summary>
    public static void Wait(int* address, int expected)
    {
        if (s_syscall != null)
        {
            s_syscall(s_futexNumber, address, FutexWaitPrivate, expected, null, null, 0);
        }
        else if (s_waitOnAddress != null)
        {
            s_waitOnAddress(address, &expected, sizeof(int), 0xFFFFFFFF);
        }
        else
        {
            var stripe = Stripe(address);
            lock (stripe)
                if (Volatile.Read(ref *address) == expected) Monitor.Wait(stripe, 50);
        }
    }

    /// <summary>Wakes every thread waiting on <paramref name="address"/> (call after changing the word).</summary>
    public static void WakeAll(int* address)
    {
        if (s_syscall != null)
        {
            s_syscall(s_futexNumber, address, FutexWakePrivate, int.MaxValue, null, null, 0);
        }
        else if (s_wakeByAddressAll != null)
        {
            s_wakeByAddressAll(address);
        }
        else
        {
            var stripe = Stripe(address);
            lock (stripe) Monitor.PulseAll(stripe);
        }
    }

    private static object Stripe(int* address) => s_stripes[(int)(((nuint)address >> 6) % (nuint)s_stripes.Length)];
}
