using FlashAttn.Compute.Runtime;

namespace FlashAttn.Kernels;

/// <summary>The one place where <see cref="Fp32Math.Auto"/> becomes a concrete fp32 math for a call.</summary>
internal static class Fp32MathChoice
{
    /// <summary>
    /// Widest padded head dim whose backward is faster on the tensor cores. Measured on an H100 (2026-12-05, commit
    /// f6eaa70, against PyTorch's mem-efficient fp32 in the same call): forward+backward with 3×TF32 1.17–1.38× at d = 64
    /// and 0.69–0.74× at d = 128, with exact FFMA 1.02–1.08× and 1.00–1.07×; the 3×TF32 forward was ahead at both.
    /// </summary>
    public const int TensorCoreBackwardMaxHeadDim = 64;

    /// <summary>
    /// <paramref name="requested"/> unless it is <see cref="Fp32Math.Auto"/>; then <see cref="Fp32Math.TensorCores"/> on a
    /// CUDA device of sm_80 or newer for forwards and for backwards up to <see cref="TensorCoreBackwardMaxHeadDim"/>, else
    /// <see cref="Fp32Math.Exact"/> (the CPU accelerator would only emulate the tensor cores, slowly).
    /// </summary>
    public static Fp32Math Resolve(Fp32Math requested, Accelerator accelerator, int headDim, bool backward)
        => Resolve(requested, accelerator.Kind, accelerator.Info.ComputeCapability, headDim, backward);

    /// <summary><see cref="Resolve(Fp32Math, Accelerator, int, bool)"/> for a device of <paramref name="kind"/> and
    /// <paramref name="computeCapability"/> (major·10 + minor).</summary>
    public static Fp32Math Resolve(Fp32Math requested, AcceleratorKind kind, int computeCapability, int headDim, bool backward)
    {
        if (requested != Fp32Math.Auto) return requested;
        if (kind != AcceleratorKind.Cuda || computeCapability < 80) return Fp32Math.Exact;
        return backward && headDim > TensorCoreBackwardMaxHeadDim ? Fp32Math.Exact : Fp32Math.TensorCores;
    }
}
