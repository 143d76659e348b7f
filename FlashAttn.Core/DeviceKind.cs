namespace FlashAttn;

/// <summary>What kind of hardware a <see cref="Device"/> is.</summary>
public enum DeviceKind
{
    /// <summary>
    /// The host CPU running attention's dedicated CPU code (blocked FlashAttention with SIMD micro-kernels, parallel
    /// over all cores); what <see cref="Device.CreateDefault()"/> picks when there is no GPU.
    /// </summary>
    Cpu,
    /// <summary>An NVIDIA GPU driven through the CUDA driver.</summary>
    Cuda,
    /// <summary>
    /// The host CPU emulating a GPU: the GPU kernels themselves run as managed code, one OS thread per GPU thread.
    /// Slow (about 1/1000 of <see cref="Cpu"/>); for testing the kernels without a GPU.
    /// </summary>
    CpuEmulator,
}
