namespace FlashAttn.Distributed;

/// <summary>NCCL's result codes (<c>ncclResult_t</c>).</summary>
public enum NcclResult
{
    /// <summary>ncclSuccess.</summary>
    Success = 0,
    /// <summary>ncclUnhandledCudaError: a CUDA call inside NCCL failed.</summary>
    UnhandledCudaError = 1,
    /// <summary>ncclSystemError: a system call failed (sockets, shared memory, ...).</summary>
    SystemError = 2,
    /// <summary>ncclInternalError.</summary>
    InternalError = 3,
    /// <summary>ncclInvalidArgument.</summary>
    InvalidArgument = 4,
    /// <summary>ncclInvalidUsage: calls out of order or mismatched between ranks.</summary>
    InvalidUsage = 5,
    /// <summary>ncclRemoteError: a peer exited or the network failed.</summary>
    RemoteError = 6,
    /// <summary>ncclInProgress: an operation of a non-blocking communicator is still running.</summary>
    InProgress = 7,
    /// <summary>ncclTimeout.</summary>
    Timeout = 8,
}
