using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Cpu.Simd;
using FlashAttn.Dispatch;
using FlashAttn.Kernels;

namespace FlashAttn.Cpu;

/// <summary>
/// The CPU path behind <see cref="DeviceKind.Cpu"/>: dedicated CPU code (<see cref="CpuForward"/>,
/// <see cref="CpuBackward"/>) on the widest fp32 vectors the CPU runs well — AVX-512, else AVX2 with FMA, else 128-bit
/// — over <see cref="Threads"/> workers. The accelerator only holds the tensors (native memory); nothing is launched
/// on it. Both passes are deterministic by construction, so <see cref="AttentionProblem.Deterministic"/> changes nothing.
/// </summary>
internal sealed unsafe partial class CpuAttentionKernels : IAttentionKernels
{
    private readonly ParallelOptions _parallel;

    /// <summary>One worker: for the sequences of a call that run side by side (<see cref="ForEachSequence"/>).</summary>
    private readonly ParallelOptions _serial;

    /// <param name="threads">Workers per call (≥ 1).</param>
    /// <param name="vectorBits">512, 256 or 128 to force a width (tests); 0 picks the widest the CPU accelerates.</param>
    public CpuAttentionKernels(int threads, int vectorBits = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Threads = threads;
        VectorBits = vectorBits != 0 ? vectorBits
            : Vector512.IsHardwareAccelerated ? 512
            : Vector256.IsHardwareAccelerated && Fma.IsSupported ? 256
            : 128;
        if (VectorBits is not (512 or 256 or 128))
            throw new ArgumentOutOfRangeException(nameof(vectorBits), vectorBits, "vectorBits must be 0, 128, 256 or 512.");
        _parallel = new ParallelOptions { MaxDegreeOfParallelism = threads };
        _serial = new ParallelOptions { MaxDegreeOfParallelism = 1 };
    }

    /// <summary>Workers per call.</summary>
    public int Threads { get; }

    /// <summary>Width of the vectors the micro-kernels run on.</summary>
    public int VectorBits { get; }

    /// <summary>The device name: the CPU with the path's vector width and workers.</summary>
    public string Describe() => $"CPU ({Environment.ProcessorCount} cores; FlashAttention CPU path, {VectorBits}-bit vectors, {Threads} threads)";

    public void Forward<T, TScore, TMask>(Accelerator accelerator, AttentionProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => DenseForward(problem, DenseModifiers(problem, modifiers), accelerator, q.Pointer, k.Pointer, v.Pointer, output.Pointer,
            lse.Pointer, _parallel);

    public void Backward<T, TScore, TMask>(Accelerator accelerator, AttentionProblem problem, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => DenseBackward(problem, DenseModifiers(problem, modifiers), accelerator, q.Pointer, k.Pointer, v.Pointer, output.Pointer,
            dOutput.Pointer, lse.Pointer, dq.Pointer, dk.Pointer, dv.Pointer, _parallel);

    /// <summary>The CPU passes' view of the modifiers, block mask and dropout of the dense call <paramref name="problem"/>.</summary>
    private static CpuModifiers<TScore, TMask> DenseModifiers<TScore, TMask>(AttentionProblem problem, AttentionModifiers<TScore, TMask> modifiers)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => new(modifiers, problem.Dropout, problem.HeadsQ, sequence: 0, CpuTiles.For(modifiers.Blocks, problem));

    /// <summary>The CPU passes' view of the modifiers and dropout of <paramref name="problem"/>, one sequence of a varlen or
    /// KV-cache call whose batch 0 is modifiers' batch <paramref name="sequence"/>: block masks are built for dense shapes, so
    /// none is read (as on the GPU).</summary>
    private static CpuModifiers<TScore, TMask> Modifiers<TScore, TMask>(AttentionProblem problem, AttentionModifiers<TScore, TMask> modifiers, int sequence)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => new(modifiers, problem.Dropout, problem.HeadsQ, sequence, CpuTiles.None);

    /// <summary>The dense forward on the path's vector width; also what each sequence of a varlen or KV-cache call runs.</summary>
    private void DenseForward<T, TScore, TMask>(AttentionProblem problem, CpuModifiers<TScore, TMask> modifiers, Accelerator accelerator,
        T* q, T* k, T* v, T* output, float* lse, ParallelOptions parallel)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var layout = new CpuAttentionLayout(problem);
        switch (VectorBits)
        {
            case 512: CpuForward.Run<T, Simd512, Vector512<float>, TScore, TMask>(layout, modifiers, accelerator, q, k, v, output, lse, parallel); break;
            case 256: CpuForward.Run<T, Simd256, Vector256<float>, TScore, TMask>(layout, modifiers, accelerator, q, k, v, output, lse, parallel); break;
            default: CpuForward.Run<T, Simd128, Vector128<float>, TScore, TMask>(layout, modifiers, accelerator, q, k, v, output, lse, parallel); break;
        }
    }

    /// <summary>The dense backward on the path's vector width; also what each sequence of a varlen call runs.</summary>
    private void DenseBackward<T, TScore, TMask>(AttentionProblem problem, CpuModifiers<TScore, TMask> modifiers, Accelerator accelerator,
        T* q, T* k, T* v, T* output, T* dOutput, float* lse, T* dq, T* dk, T* dv, ParallelOptions parallel)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var layout = new CpuAttentionLayout(problem);
        switch (VectorBits)
        {
            case 512: CpuBackward.Run<T, Simd512, Vector512<float>, TScore, TMask>(layout, modifiers, accelerator, q, k, v, output, dOutput, lse, dq, dk, dv, parallel); break;
            case 256: CpuBackward.Run<T, Simd256, Vector256<float>, TScore, TMask>(layout, modifiers, accelerator, q, k, v, output, dOutput, lse, dq, dk, dv, parallel); break;
            default: CpuBackward.Run<T, Simd128, Vector128<float>, TScore, TMask>(layout, modifiers, accelerator, q, k, v, output, dOutput, lse, dq, dk, dv, parallel); break;
        }
    }
}
