namespace FlashAttn.Compute.Backends.Ptx;

/// <summary>The PTX ISA version and the sm_XX target a module is written for.</summary>
/// <param name="IsaMajor">PTX ISA major version (the .version directive).</param>
/// <param name="IsaMinor">PTX ISA minor version.</param>
/// <param name="SmVersion">Target architecture as major·10 + minor (sm_90 → 90).</param>
public sealed record PtxTarget(int IsaMajor, int IsaMinor, int SmVersion)
{
    /// <summary>
    /// The newest ISA the driver accepts (CUDA 12.0 → PTX 8.0 … CUDA 13.0 → PTX 9.0) and the device's own
    /// architecture, capped at what that ISA knows.
    /// </summary>
    /// <param name="driverVersion">cuDriverGetVersion, e.g. 13000 for CUDA 13.0.</param>
    /// <param name="computeCapability">major·10 + minor, e.g. 90.</param>
    public static PtxTarget For(int driverVersion, int computeCapability)
    {
        int cudaMajor = driverVersion / 1000, cudaMinor = driverVersion % 1000 / 10;
        (int isaMajor, int isaMinor) = cudaMajor switch
        {
            >= 13 => (9, 0),
            12 => (8, Math.Min(cudaMinor, 8)),
            11 => (7, Math.Min(cudaMinor, 8)),
            _ => (6, 4),
        };
        // sm_90 needs PTX 7.8; sm_89 7.8; sm_86 7.1; sm_80 7.0. Older drivers cannot target newer chips anyway.
        int sm = computeCapability;
        if (isaMajor < 7 || (isaMajor == 7 && isaMinor < 8)) sm = Math.Min(sm, 86);
        return new PtxTarget(isaMajor, isaMinor, sm);
    }

    /// <summary>The default used when no device is present (CI): PTX 8.1 (CUDA 12.1, the first with vector reductions) for sm_90.</summary>
    public static PtxTarget Default { get; } = new(8, 1, 90);

    /// <summary>The .version directive's value, e.g. "8.0".</summary>
    public string IsaVersion => $"{IsaMajor}.{IsaMinor}";

    /// <summary>The .target directive's value, e.g. "sm_90".</summary>
    public string TargetName => $"sm_{SmVersion}";
}
