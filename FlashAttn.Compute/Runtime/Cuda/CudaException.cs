using System.Text;

namespace FlashAttn.Compute.Runtime.Cuda;

/// <summary>
/// A CUDA driver call failed. Carries the driver's result code, its name and description
/// (cuGetErrorName / cuGetErrorString), the failing call, the kernel for launches and the JIT log for
/// module loads.
/// </summary>
public sealed class CudaException : Exception
{
    /// <summary>Creates the exception for a failed driver call.</summary>
    /// <param name="result">The driver's result code.</param>
    /// <param name="call">The driver function that failed, e.g. "cuMemAlloc_v2".</param>
    /// <param name="kernelName">The kernel being launched or loaded, if any.</param>
    /// <param name="jitLog">The JIT compiler's error log for a failed module load, if any.</param>
    public CudaException(CudaResult result, string call, string? kernelName = null, string? jitLog = null)
        : this(result, call, kernelName, jitLog, CudaApi.GetErrorName(result), CudaApi.GetErrorString(result))
    {
    }

    /// <summary>Creates the exception with explicit error texts (also used when the driver cannot describe the code).</summary>
    internal CudaException(CudaResult result, string call, string? kernelName, string? jitLog, string? errorName, string? errorString)
        : base(Format(result, call, kernelName, jitLog,
            errorName ?? FallbackName(result), errorString ?? FallbackString(result)))
    {
        Result = result;
        Call = call;
        KernelName = kernelName;
        JitLog = string.IsNullOrWhiteSpace(jitLog) ? null : jitLog;
        ErrorName = errorName ?? FallbackName(result);
        ErrorString = errorString ?? FallbackString(result);
    }

    /// <summary>The driver's result code.</summary>
    public CudaResult Result { get; }

    /// <summary>The driver's name of the code, e.g. "CUDA_ERROR_OUT_OF_MEMORY".</summary>
    public string ErrorName { get; }

    /// <summary>The driver's description of the code.</summary>
    public string ErrorString { get; }

    /// <summary>The driver function that failed.</summary>
    public string Call { get; }

    /// <summary>The kernel being launched or loaded, or null.</summary>
    public string? KernelName { get; }

    /// <summary>The JIT compiler's log for a failed module load, or null.</summary>
    public string? JitLog { get; }

    private static string Format(CudaResult result, string call, string? kernelName, string? jitLog, string name, string description)
    {
        var text = new StringBuilder();
        text.Append(call).Append(" failed");
        if (kernelName is not null) text.Append(" for kernel '").Append(kernelName).Append('\'');
        text.Append(": ").Append(name).Append(" (").Append((int)result).Append("): ").Append(description);
        if (!string.IsNullOrWhiteSpace(jitLog))
            text.AppendLine().Append("JIT log:").AppendLine().Append(jitLog.TrimEnd());
        return text.ToString();
    }

    /// <summary>"CUDA_ERROR_OUT_OF_MEMORY" from <see cref="CudaResult.OutOfMemory"/>; used when the driver is absent.</summary>
    internal static string FallbackName(CudaResult result)
    {
        if (result == CudaResult.Success) return "CUDA_SUCCESS";
        if (!Enum.IsDefined(result)) return $"CUDA_ERROR_{(int)result}";
        var name = result.ToString();
        var text = new StringBuilder("CUDA_ERROR_");
        for (int i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]) && !char.IsUpper(name[i - 1])) text.Append('_');
            text.Append(char.ToUpperInvariant(name[i]));
        }
        return text.ToString();
    }

    private static string FallbackString(CudaResult result)
        => Enum.IsDefined(result) ? $"{result} (no description: the driver could not be asked)" : "unrecognized error code";
}
