using System.Text;

namespace FlashAttn.Distributed;

/// <summary>
/// An NCCL call failed. Carries NCCL's result code and its description (<c>ncclGetErrorString</c>), NCCL's message about
/// the last error (<c>ncclGetLastError</c>, where the library has it) and the failing call.
/// </summary>
public sealed class NcclException : Exception
{
    /// <summary>Creates the exception for a failed NCCL call.</summary>
    /// <param name="result">NCCL's result code.</param>
    /// <param name="call">The NCCL function that failed, e.g. "ncclCommInitRank".</param>
    /// <param name="errorString">NCCL's description of <paramref name="result"/>; null for a built-in one.</param>
    /// <param name="lastError">NCCL's message about the last error, or null.</param>
    public NcclException(NcclResult result, string call, string? errorString = null, string? lastError = null)
        : base(Format(result, call, errorString ?? FallbackString(result), Clean(lastError)))
    {
        Result = result;
        Call = call;
        ErrorString = errorString ?? FallbackString(result);
        LastError = Clean(lastError);
    }

    /// <summary>NCCL's result code.</summary>
    public NcclResult Result { get; }

    /// <summary>The NCCL function that failed.</summary>
    public string Call { get; }

    /// <summary>NCCL's description of <see cref="Result"/>.</summary>
    public string ErrorString { get; }

    /// <summary>NCCL's message about the last error (<c>ncclGetLastError</c>), or null when it had none.</summary>
    public string? LastError { get; }

    /// <summary>"ncclRemoteError" from <see cref="NcclResult.RemoteError"/>.</summary>
    internal static string ResultName(NcclResult result)
        => Enum.IsDefined(result) ? "nccl" + result : $"ncclResult {(int)result}";

    private static string Format(NcclResult result, string call, string description, string? lastError)
    {
        var text = new StringBuilder();
        text.Append(call).Append(" failed: ").Append(ResultName(result)).Append(" (").Append((int)result).Append("): ").Append(description);
        if (lastError is not null) text.Append(". NCCL's last error: ").Append(lastError);
        return text.ToString();
    }

    private static string? Clean(string? lastError) => string.IsNullOrWhiteSpace(lastError) ? null : lastError.Trim();

    private static string FallbackString(NcclResult result) => result switch
    {
        NcclResult.Success => "success",
        NcclResult.UnhandledCudaError => "a CUDA call inside NCCL failed",
        NcclResult.SystemError => "a system call inside NCCL failed",
        NcclResult.InternalError => "NCCL internal error",
        NcclResult.InvalidArgument => "an argument was invalid",
        NcclResult.InvalidUsage => "the calls were invalid (out of order, or mismatched between ranks)",
        NcclResult.RemoteError => "a peer exited or the network failed",
        NcclResult.InProgress => "the operation is still in progress",
        NcclResult.Timeout => "the operation timed out",
        _ => "unrecognized result code",
    };
}
