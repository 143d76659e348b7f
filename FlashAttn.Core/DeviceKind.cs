namespace FlashAttn;

/// <summary>What kind of hardware a <see cref="Device"/> is.</summary>
public enum DeviceKind
{
    /// <summary>The host CPU: kernels run as managed code on CPU threads.</summary>
    Cpu,
    /// <summary>An NVIDIA GPU driven through the CUDA driver.</summary>
    Cuda,
}
