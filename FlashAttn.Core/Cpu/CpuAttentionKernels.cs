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
internal sealed unsafe class CpuAttentionKernels : IAttentionKernels
{
    private readonly ParallelOptions _parallel;

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
    }

    /// <summary>Workers per call.</summary>
    public int Threads { get; }

    /// <summary>Width of the vectors the micro-kernels run on.</summary>
    public int VectorBits { get; }

    /// <summary>The device name: the CPU with the path's vector width and workers.</summary>
    public string Describe() => $"CPU ({Environment.ProcessorCount} cores; FlashAttention CPU path, {VectorBits}-bit vectors, {Threads} threads)";

    public void Forward<T>(Accelerator accelerator, AttentionProblem problem,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse) where T : unmanaged
    {
        var layout = new CpuAttentionLayout(problem);
        switch (VectorBits)
        {
            case 512: CpuForward.Run<T, Simd512, Vector512<float>>(layout, accelerator, q.Pointer, k.Pointer, v.Pointer, output.Pointer, lse.Pointer, _parallel); break;
            case 256: CpuForward.Run<T, Simd256, Vector256<float>>(layout, accelerator, q.Pointer, k.Pointer, v.Pointer, output.Pointer, lse.Pointer, _parallel); break;
            default: CpuForward.Run<T, Simd128, Vector128<float>>(layout, accelerator, q.Pointer, k.Pointer, v.Pointer, output.Pointer, lse.Pointer, _parallel); break;
        }
    }

    public void Backward<T>(Accelerator accelerator, AttentionProblem problem,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv) where T : unmanaged
    {
        var layout = new CpuAttentionLayout(problem);
        switch (VectorBits)
        {
            case 512:
                CpuBackward.Run<T, Simd512, Vector512<float>>(layout, accelerator, q.Pointer, k.Pointer, v.Pointer, output.Pointer, dOutput.Pointer,
                    lse.Pointer, dq.Pointer, dk.Pointer, dv.Pointer, _parallel);
                break;
            case 256:
                CpuBackward.Run<T, Simd256, Vector256<float>>(layout, accelerator, q.Pointer, k.Pointer, v.Pointer, output.Pointer, dOutput.Pointer,
                    lse.Pointer, dq.Pointer, dk.Pointer, dv.Pointer, _parallel);
                break;
            default:
                CpuBackward.Run<T, Simd128, Vector128<float>>(layout, accelerator, q.Pointer, k.Pointer, v.Pointer, output.Pointer, dOutput.Pointer,
                    lse.Pointer, dq.Pointer, dk.Pointer, dv.Pointer, _parallel);
                break;
        }
    }

    public void ForwardVarlen<T>(Accelerator accelerator, VarlenProblem problem, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v,
        ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK, ArrayView<T> output, ArrayView<float> lse) where T : unmanaged
        => throw new NotImplementedException("CPU path: varlen and KV cache");

    public void BackwardVarlen<T>(Accelerator accelerator, VarlenProblem problem, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v,
        ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse, ArrayView<int> cuSeqlensQ, ArrayView<int> cuSeqlensK,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv) where T : unmanaged
        => throw new NotImplementedException("CPU path: varlen and KV cache");

    public void ForwardKvCache<T>(Accelerator accelerator, KvCacheProblem problem, ArrayView<T> q, ArrayView<T> kCache, ArrayView<T> vCache,
        ArrayView<T> kNew, ArrayView<T> vNew, KvCacheIndex index, ArrayView<T> output, ArrayView<float> lse) where T : unmanaged
        => throw new NotImplementedException("CPU path: varlen and KV cache");
}
