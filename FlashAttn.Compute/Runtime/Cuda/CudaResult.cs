namespace FlashAttn.Compute.Runtime.Cuda;

/// <summary>The CUDA driver's result codes (<c>CUresult</c>); the numeric values are the driver's.</summary>
public enum CudaResult
{
    /// <summary>CUDA_SUCCESS.</summary>
    Success = 0,
    /// <summary>CUDA_ERROR_INVALID_VALUE.</summary>
    InvalidValue = 1,
    /// <summary>CUDA_ERROR_OUT_OF_MEMORY.</summary>
    OutOfMemory = 2,
    /// <summary>CUDA_ERROR_NOT_INITIALIZED.</summary>
    NotInitialized = 3,
    /// <summary>CUDA_ERROR_DEINITIALIZED.</summary>
    Deinitialized = 4,
    /// <summary>CUDA_ERROR_PROFILER_DISABLED.</summary>
    ProfilerDisabled = 5,
    /// <summary>CUDA_ERROR_STUB_LIBRARY (a stub libcuda without a driver behind it).</summary>
    StubLibrary = 34,
    /// <summary>CUDA_ERROR_DEVICE_UNAVAILABLE.</summary>
    DeviceUnavailable = 46,
    /// <summary>CUDA_ERROR_NO_DEVICE.</summary>
    NoDevice = 100,
    /// <summary>CUDA_ERROR_INVALID_DEVICE.</summary>
    InvalidDevice = 101,
    /// <summary>CUDA_ERROR_DEVICE_NOT_LICENSED.</summary>
    DeviceNotLicensed = 102,
    /// <summary>CUDA_ERROR_INVALID_IMAGE.</summary>
    InvalidImage = 200,
    /// <summary>CUDA_ERROR_INVALID_CONTEXT.</summary>
    InvalidContext = 201,
    /// <summary>CUDA_ERROR_CONTEXT_ALREADY_CURRENT (deprecated).</summary>
    ContextAlreadyCurrent = 202,
    /// <summary>CUDA_ERROR_MAP_FAILED.</summary>
    MapFailed = 205,
    /// <summary>CUDA_ERROR_UNMAP_FAILED.</summary>
    UnmapFailed = 206,
    /// <summary>CUDA_ERROR_NO_BINARY_FOR_GPU.</summary>
    NoBinaryForGpu = 209,
    /// <summary>CUDA_ERROR_ECC_UNCORRECTABLE.</summary>
    EccUncorrectable = 214,
    /// <summary>CUDA_ERROR_UNSUPPORTED_LIMIT.</summary>
    UnsupportedLimit = 215,
    /// <summary>CUDA_ERROR_CONTEXT_ALREADY_IN_USE.</summary>
    ContextAlreadyInUse = 216,
    /// <summary>CUDA_ERROR_INVALID_PTX (the PTX failed to JIT-compile).</summary>
    InvalidPtx = 218,
    /// <summary>CUDA_ERROR_JIT_COMPILER_NOT_FOUND.</summary>
    JitCompilerNotFound = 221,
    /// <summary>CUDA_ERROR_UNSUPPORTED_PTX_VERSION (the PTX .version is newer than the driver).</summary>
    UnsupportedPtxVersion = 222,
    /// <summary>CUDA_ERROR_JIT_COMPILATION_DISABLED.</summary>
    JitCompilationDisabled = 223,
    /// <summary>CUDA_ERROR_INVALID_SOURCE.</summary>
    InvalidSource = 300,
    /// <summary>CUDA_ERROR_FILE_NOT_FOUND.</summary>
    FileNotFound = 301,
    /// <summary>CUDA_ERROR_OPERATING_SYSTEM.</summary>
    OperatingSystem = 304,
    /// <summary>CUDA_ERROR_INVALID_HANDLE.</summary>
    InvalidHandle = 400,
    /// <summary>CUDA_ERROR_ILLEGAL_STATE.</summary>
    IllegalState = 401,
    /// <summary>CUDA_ERROR_NOT_FOUND (e.g. no function of that name in the module).</summary>
    NotFound = 500,
    /// <summary>CUDA_ERROR_NOT_READY.</summary>
    NotReady = 600,
    /// <summary>CUDA_ERROR_ILLEGAL_ADDRESS (a kernel accessed memory out of bounds).</summary>
    IllegalAddress = 700,
    /// <summary>CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES (too many registers or threads for the launch).</summary>
    LaunchOutOfResources = 701,
    /// <summary>CUDA_ERROR_LAUNCH_TIMEOUT.</summary>
    LaunchTimeout = 702,
    /// <summary>CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED.</summary>
    PeerAccessAlreadyEnabled = 704,
    /// <summary>CUDA_ERROR_PEER_ACCESS_NOT_ENABLED.</summary>
    PeerAccessNotEnabled = 705,
    /// <summary>CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE.</summary>
    PrimaryContextActive = 708,
    /// <summary>CUDA_ERROR_CONTEXT_IS_DESTROYED.</summary>
    ContextIsDestroyed = 709,
    /// <summary>CUDA_ERROR_ASSERT (a device-side assertion failed).</summary>
    Assert = 710,
    /// <summary>CUDA_ERROR_HARDWARE_STACK_ERROR.</summary>
    HardwareStackError = 714,
    /// <summary>CUDA_ERROR_ILLEGAL_INSTRUCTION.</summary>
    IllegalInstruction = 715,
    /// <summary>CUDA_ERROR_MISALIGNED_ADDRESS.</summary>
    MisalignedAddress = 716,
    /// <summary>CUDA_ERROR_INVALID_ADDRESS_SPACE.</summary>
    InvalidAddressSpace = 717,
    /// <summary>CUDA_ERROR_INVALID_PC.</summary>
    InvalidPc = 718,
    /// <summary>CUDA_ERROR_LAUNCH_FAILED.</summary>
    LaunchFailed = 719,
    /// <summary>CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE.</summary>
    CooperativeLaunchTooLarge = 720,
    /// <summary>CUDA_ERROR_NOT_PERMITTED.</summary>
    NotPermitted = 800,
    /// <summary>CUDA_ERROR_NOT_SUPPORTED.</summary>
    NotSupported = 801,
    /// <summary>CUDA_ERROR_SYSTEM_NOT_READY.</summary>
    SystemNotReady = 802,
    /// <summary>CUDA_ERROR_SYSTEM_DRIVER_MISMATCH.</summary>
    SystemDriverMismatch = 803,
    /// <summary>CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE.</summary>
    CompatNotSupportedOnDevice = 804,
    /// <summary>CUDA_ERROR_UNKNOWN.</summary>
    Unknown = 999,
}
