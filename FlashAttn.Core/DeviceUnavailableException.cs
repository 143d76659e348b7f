namespace FlashAttn;

/// <summary>
/// A device was asked for that this machine cannot provide: CUDA requested (<see cref="Device.Cuda"/>, or
/// <see cref="Device.CreateDefault()"/> / <see cref="Device.Default"/> with <c>FLASHATTN_DEVICE=cuda</c>) but no CUDA
/// driver with a GPU was found. Every such request throws this one type.
/// </summary>
public sealed class DeviceUnavailableException : InvalidOperationException
{
    /// <summary>Creates the exception with <paramref name="message"/>.</summary>
    public DeviceUnavailableException(string message) : base(message) { }

    /// <summary>Creates the exception with <paramref name="message"/> and the error that revealed it.</summary>
    public DeviceUnavailableException(string message, Exception? innerException) : base(message, innerException) { }

    /// <summary>The "no CUDA" failure, naming what was requested.</summary>
    internal static DeviceUnavailableException NoCuda(string requested, Exception? innerException = null) => new(
        $"{requested} was requested but no CUDA driver with a GPU was found (libcuda missing, failing to initialize, " +
        "or reporting no GPU); use Device.Cpu(), or unset FLASHATTN_DEVICE to fall back to the CPU.", innerException);
}
