using System.Runtime.CompilerServices;
using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Compute;

/// <summary>
/// Shared-memory barriers with phases and a transaction count (<c>mbarrier</c>, sm_90): the producer–consumer handshake of
/// Hopper kernels, where a stage is full once its expected threads have arrived and the bytes its asynchronous copies
/// announced (<see cref="ArriveExpectTransaction"/>) have landed (<see cref="CompleteTransaction"/>, or the copy engine).
/// A barrier is a <see cref="ulong"/> in shared memory, 8-byte aligned, initialised by one thread (<see cref="Init"/>) and
/// published by a group barrier before use. Each phase completes when its pending arrivals and transaction bytes both
/// reach zero; the next phase then expects the same count. A thread waits for the phase of a given parity to complete
/// (<see cref="WaitParity"/>): 0 for the first, 1 for the second, and so on alternately.
/// </summary>
/// <remarks>On the CPU the state lives in the barrier's own 8 bytes (pending arrivals, expected count, phase, transaction
/// bytes), changed atomically; a wait that sees no progress for <see cref="CpuMBarrier.Patience"/> fails the launch (a
/// missing arrival would hang a GPU).</remarks>
public static class MBarrier
{
    /// <summary>mbarrier.init: <paramref name="barrier"/> expects <paramref name="count"/> (1 … 2²⁰ − 1) arrivals per phase,
    /// phase 0 in progress.</summary>
    [Intrinsic(IntrinsicOp.MBarrierInit)]
    public static void Init(ref ulong barrier, int count) => CpuMBarrier.Init(ref barrier, count);

    /// <summary>mbarrier.arrive: this thread's arrival on the current phase; returns an opaque token of that phase.</summary>
    [Intrinsic(IntrinsicOp.MBarrierArrive)]
    public static ulong Arrive(ref ulong barrier) => CpuMBarrier.Arrive(ref barrier, 0);

    /// <summary>mbarrier.arrive.expect_tx: announces <paramref name="bytes"/> of asynchronous transfers the current phase also
    /// waits for, then arrives; returns the phase's token.</summary>
    [Intrinsic(IntrinsicOp.MBarrierArriveExpectTransaction)]
    public static ulong ArriveExpectTransaction(ref ulong barrier, int bytes) => CpuMBarrier.Arrive(ref barrier, bytes);

    /// <summary>mbarrier.complete_tx: <paramref name="bytes"/> of the announced transfers have landed (what the copy engine
    /// signals for a bulk copy; written out for copies made otherwise, and for tests).</summary>
    [Intrinsic(IntrinsicOp.MBarrierCompleteTransaction)]
    public static void CompleteTransaction(ref ulong barrier, int bytes) => CpuMBarrier.CompleteTransaction(ref barrier, bytes);

    /// <summary>mbarrier.try_wait.parity: true once the phase of parity <paramref name="phaseParity"/> (0 or 1) has
    /// completed; it may also return false after waiting a while, so callers loop (<see cref="WaitParity"/>).</summary>
    [Intrinsic(IntrinsicOp.MBarrierTryWaitParity)]
    public static bool TryWaitParity(ref ulong barrier, int phaseParity) => CpuMBarrier.TryWaitParity(ref barrier, phaseParity);

    /// <summary>Waits until the phase of parity <paramref name="phaseParity"/> has completed (a loop of <see cref="TryWaitParity"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WaitParity(ref ulong barrier, int phaseParity)
    {
        while (!TryWaitParity(ref barrier, phaseParity)) { }
    }
}
