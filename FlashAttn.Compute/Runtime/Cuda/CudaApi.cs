using System.Runtime.InteropServices;

namespace FlashAttn.Compute.Runtime.Cuda;

/// <summary>
/// The CUDA driver API entry points used by the CUDA runtime, bound at run time from <c>libcuda.so.1</c>
/// (Linux) or <c>nvcuda.dll</c> (Windows) through <see cref="NativeLibrary"/>. Binding by hand (rather than
/// <c>[DllImport]</c> plus an assembly-wide resolver, of which there can be only one) lets <see cref="TryLoad"/>
/// fail quietly on machines without a driver and prefer versioned exports (<c>_v2</c>) where they exist.
/// </summary>
/// <remarks>Handles: <c>CUdevice</c> is int; <c>CUdeviceptr</c> is ulong; contexts, modules, functions, streams and events are nint.</remarks>
internal static unsafe class CudaApi
{
    // CUdevice_attribute values used here.
    public const int DeviceAttributeMaxThreadsPerBlock = 1;
    public const int DeviceAttributeMaxSharedMemoryPerBlock = 8;
    public const int DeviceAttributeWarpSize = 10;
    public const int DeviceAttributeMultiprocessorCount = 16;
    public const int DeviceAttributeComputeCapabilityMajor = 75;
    public const int DeviceAttributeComputeCapabilityMinor = 76;
    public const int DeviceAttributeMaxSharedMemoryPerMultiprocessor = 81;
    public const int DeviceAttributeMaxSharedMemoryPerBlockOptin = 97;

    // CUfunction_attribute values.
    public const int FuncAttributeMaxThreadsPerBlock = 0;
    public const int FuncAttributeSharedSizeBytes = 1;
    public const int FuncAttributeConstSizeBytes = 2;
    public const int FuncAttributeLocalSizeBytes = 3;
    public const int FuncAttributeNumRegs = 4;
    public const int FuncAttributePtxVersion = 5;
    public const int FuncAttributeBinaryVersion = 6;
    public const int FuncAttributeMaxDynamicSharedSizeBytes = 8;

    // CUjit_option values.
    public const int JitInfoLogBuffer = 3;
    public const int JitInfoLogBufferSizeBytes = 4;
    public const int JitErrorLogBuffer = 5;
    public const int JitErrorLogBufferSizeBytes = 6;
    public const int JitLogVerbose = 12;

    // Flags.
    public const uint StreamDefault = 0;
    /// <summary>CU_STREAM_NON_BLOCKING: the stream does not synchronize with the NULL stream.</summary>
    public const uint StreamNonBlocking = 1;
    public const uint EventDefault = 0;
    /// <summary>CU_EVENT_DISABLE_TIMING: an event for ordering only (cheaper to record and wait on).</summary>
    public const uint EventDisableTiming = 2;

    private static readonly object s_lock = new();
    private static bool s_attempted;
    private static string? s_loadError;
    private static nint s_library;

    private static delegate* unmanaged<uint, CudaResult> s_init;
    private static delegate* unmanaged<int*, CudaResult> s_driverGetVersion;
    private static delegate* unmanaged<int*, CudaResult> s_deviceGetCount;
    private static delegate* unmanaged<int*, int, CudaResult> s_deviceGet;
    private static delegate* unmanaged<byte*, int, int, CudaResult> s_deviceGetName;
    private static delegate* unmanaged<int*, int, int, CudaResult> s_deviceGetAttribute;
    private static delegate* unmanaged<nuint*, int, CudaResult> s_deviceTotalMem;
    private static delegate* unmanaged<nint*, int, CudaResult> s_primaryCtxRetain;
    private static delegate* unmanaged<int, CudaResult> s_primaryCtxRelease;
    private static delegate* unmanaged<nint, CudaResult> s_ctxSetCurrent;
    private static delegate* unmanaged<CudaResult> s_ctxSynchronize;
    private static delegate* unmanaged<int*, CudaResult> s_ctxGetDevice;
    private static delegate* unmanaged<nint*, CudaResult> s_ctxGetCurrent;
    private static delegate* unmanaged<ulong*, nuint, CudaResult> s_memAlloc;
    private static delegate* unmanaged<ulong*, nuint, uint, CudaResult> s_memAllocManaged;
    private static delegate* unmanaged<ulong, CudaResult> s_memFree;
    private static delegate* unmanaged<nuint*, nuint*, CudaResult> s_memGetInfo;
    private static delegate* unmanaged<ulong, void*, nuint, CudaResult> s_memcpyHtoD;
    private static delegate* unmanaged<void*, ulong, nuint, CudaResult> s_memcpyDtoH;
    private static delegate* unmanaged<ulong, ulong, nuint, CudaResult> s_memcpyDtoD;
    private static delegate* unmanaged<ulong, void*, nuint, nint, CudaResult> s_memcpyHtoDAsync;
    private static delegate* unmanaged<void*, ulong, nuint, nint, CudaResult> s_memcpyDtoHAsync;
    private static delegate* unmanaged<ulong, ulong, nuint, nint, CudaResult> s_memcpyDtoDAsync;
    private static delegate* unmanaged<void*, int, uint, ulong, ulong*, ulong*, uint*, uint*, int, int, int, int, CudaResult> s_tensorMapEncodeTiled;
    private static delegate* unmanaged<ulong, byte, nuint, CudaResult> s_memsetD8;
    private static delegate* unmanaged<void*, nuint, uint, CudaResult> s_memHostRegister;
    private static delegate* unmanaged<void*, CudaResult> s_memHostUnregister;
    private static delegate* unmanaged<nint*, uint, CudaResult> s_streamCreate;
    private static delegate* unmanaged<nint, CudaResult> s_streamDestroy;
    private static delegate* unmanaged<nint, CudaResult> s_streamSynchronize;
    private static delegate* unmanaged<nint, nint, uint, CudaResult> s_streamWaitEvent;
    private static delegate* unmanaged<nint*, uint, CudaResult> s_eventCreate;
    private static delegate* unmanaged<nint, CudaResult> s_eventDestroy;
    private static delegate* unmanaged<nint, nint, CudaResult> s_eventRecord;
    private static delegate* unmanaged<nint, CudaResult> s_eventSynchronize;
    private static delegate* unmanaged<float*, nint, nint, CudaResult> s_eventElapsedTime;
    private static delegate* unmanaged<nint*, void*, uint, int*, void**, CudaResult> s_moduleLoadDataEx;
    private static delegate* unmanaged<nint, CudaResult> s_moduleUnload;
    private static delegate* unmanaged<nint*, nint, byte*, CudaResult> s_moduleGetFunction;
    private static delegate* unmanaged<int*, int, nint, CudaResult> s_funcGetAttribute;
    private static delegate* unmanaged<nint, int, int, CudaResult> s_funcSetAttribute;
    private static delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, CudaResult> s_launchKernel;
    private static delegate* unmanaged<int*, nint, int, nuint, CudaResult> s_occupancyMaxActiveBlocks;
    private static delegate* unmanaged<CudaResult, byte**, CudaResult> s_getErrorName;
    private static delegate* unmanaged<CudaResult, byte**, CudaResult> s_getErrorString;

    /// <summary>File names of the driver library tried in order.</summary>
    public static IReadOnlyList<string> LibraryNames { get; } = OperatingSystem.IsWindows()
        ? ["nvcuda.dll"]
        : ["libcuda.so.1", "libcuda.so"];

    /// <summary>True once the library is loaded and every entry point bound.</summary>
    public static bool IsLoaded => TryLoad(out _);

    /// <summary>Loads the driver library and binds the entry points (once); never throws.</summary>
    /// <param name="error">Why loading failed, or null.</param>
    public static bool TryLoad(out string? error)
    {
        lock (s_lock)
        {
            if (!s_attempted)
            {
                s_attempted = true;
                try
                {
                    s_loadError = LoadCore();
                }
                catch (Exception e)
                {
                    s_loadError = $"Binding the CUDA driver failed: {e.Message}";
                }
            }
            error = s_loadError;
            return error is null;
        }
    }

    /// <summary>Throws <see cref="DllNotFoundException"/> when the driver library is missing or incomplete.</summary>
    public static void EnsureLoaded()
    {
        if (!TryLoad(out var error))
            throw new DllNotFoundException(error);
    }

    private static string? LoadCore()
    {
        foreach (var name in LibraryNames)
        {
            if (NativeLibrary.TryLoad(name, out s_library))
                break;
        }
        if (s_library == 0)
            return $"The CUDA driver library ({string.Join(" or ", LibraryNames)}) was not found.";

        var missing = new List<string>();
        nint Get(params string[] names)
        {
            foreach (var n in names)
                if (NativeLibrary.TryGetExport(s_library, n, out var address))
                    return address;
            missing.Add(names[0]);
            return 0;
        }

        s_init = (delegate* unmanaged<uint, CudaResult>)Get("cuInit");
        s_driverGetVersion = (delegate* unmanaged<int*, CudaResult>)Get("cuDriverGetVersion");
        s_deviceGetCount = (delegate* unmanaged<int*, CudaResult>)Get("cuDeviceGetCount");
        s_deviceGet = (delegate* unmanaged<int*, int, CudaResult>)Get("cuDeviceGet");
        s_deviceGetName = (delegate* unmanaged<byte*, int, int, CudaResult>)Get("cuDeviceGetName");
        s_deviceGetAttribute = (delegate* unmanaged<int*, int, int, CudaResult>)Get("cuDeviceGetAttribute");
        s_deviceTotalMem = (delegate* unmanaged<nuint*, int, CudaResult>)Get("cuDeviceTotalMem_v2");
        s_primaryCtxRetain = (delegate* unmanaged<nint*, int, CudaResult>)Get("cuDevicePrimaryCtxRetain");
        s_primaryCtxRelease = (delegate* unmanaged<int, CudaResult>)Get("cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease");
        s_ctxSetCurrent = (delegate* unmanaged<nint, CudaResult>)Get("cuCtxSetCurrent");
        s_ctxSynchronize = (delegate* unmanaged<CudaResult>)Get("cuCtxSynchronize");
        s_ctxGetDevice = (delegate* unmanaged<int*, CudaResult>)Get("cuCtxGetDevice");
        s_ctxGetCurrent = (delegate* unmanaged<nint*, CudaResult>)Get("cuCtxGetCurrent");
        s_memAlloc = (delegate* unmanaged<ulong*, nuint, CudaResult>)Get("cuMemAlloc_v2");
        s_memAllocManaged = (delegate* unmanaged<ulong*, nuint, uint, CudaResult>)Get("cuMemAllocManaged");
        s_memFree = (delegate* unmanaged<ulong, CudaResult>)Get("cuMemFree_v2");
        s_memGetInfo = (delegate* unmanaged<nuint*, nuint*, CudaResult>)Get("cuMemGetInfo_v2");
        s_memcpyHtoD = (delegate* unmanaged<ulong, void*, nuint, CudaResult>)Get("cuMemcpyHtoD_v2");
        s_memcpyDtoH = (delegate* unmanaged<void*, ulong, nuint, CudaResult>)Get("cuMemcpyDtoH_v2");
        s_memcpyDtoD = (delegate* unmanaged<ulong, ulong, nuint, CudaResult>)Get("cuMemcpyDtoD_v2");
        s_memcpyHtoDAsync = (delegate* unmanaged<ulong, void*, nuint, nint, CudaResult>)Get("cuMemcpyHtoDAsync_v2");
        s_memcpyDtoHAsync = (delegate* unmanaged<void*, ulong, nuint, nint, CudaResult>)Get("cuMemcpyDtoHAsync_v2");
        s_memcpyDtoDAsync = (delegate* unmanaged<ulong, ulong, nuint, nint, CudaResult>)Get("cuMemcpyDtoDAsync_v2");
        s_memsetD8 = (delegate* unmanaged<ulong, byte, nuint, CudaResult>)Get("cuMemsetD8_v2");
        s_memHostRegister = (delegate* unmanaged<void*, nuint, uint, CudaResult>)Get("cuMemHostRegister_v2", "cuMemHostRegister");
        s_memHostUnregister = (delegate* unmanaged<void*, CudaResult>)Get("cuMemHostUnregister");
        s_streamCreate = (delegate* unmanaged<nint*, uint, CudaResult>)Get("cuStreamCreate");
        s_streamDestroy = (delegate* unmanaged<nint, CudaResult>)Get("cuStreamDestroy_v2", "cuStreamDestroy");
        s_streamSynchronize = (delegate* unmanaged<nint, CudaResult>)Get("cuStreamSynchronize");
        s_streamWaitEvent = (delegate* unmanaged<nint, nint, uint, CudaResult>)Get("cuStreamWaitEvent");
        s_eventCreate = (delegate* unmanaged<nint*, uint, CudaResult>)Get("cuEventCreate");
        s_eventDestroy = (delegate* unmanaged<nint, CudaResult>)Get("cuEventDestroy_v2", "cuEventDestroy");
        s_eventRecord = (delegate* unmanaged<nint, nint, CudaResult>)Get("cuEventRecord");
        s_eventSynchronize = (delegate* unmanaged<nint, CudaResult>)Get("cuEventSynchronize");
        s_eventElapsedTime = (delegate* unmanaged<float*, nint, nint, CudaResult>)Get("cuEventElapsedTime_v2", "cuEventElapsedTime");
        s_moduleLoadDataEx = (delegate* unmanaged<nint*, void*, uint, int*, void**, CudaResult>)Get("cuModuleLoadDataEx");
        s_moduleUnload = (delegate* unmanaged<nint, CudaResult>)Get("cuModuleUnload");
        s_moduleGetFunction = (delegate* unmanaged<nint*, nint, byte*, CudaResult>)Get("cuModuleGetFunction");
        s_funcGetAttribute = (delegate* unmanaged<int*, int, nint, CudaResult>)Get("cuFuncGetAttribute");
        s_funcSetAttribute = (delegate* unmanaged<nint, int, int, CudaResult>)Get("cuFuncSetAttribute");
        s_launchKernel = (delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, CudaResult>)Get("cuLaunchKernel");
        s_occupancyMaxActiveBlocks = (delegate* unmanaged<int*, nint, int, nuint, CudaResult>)Get("cuOccupancyMaxActiveBlocksPerMultiprocessor");
        s_getErrorName = (delegate* unmanaged<CudaResult, byte**, CudaResult>)Get("cuGetErrorName");
        s_getErrorString = (delegate* unmanaged<CudaResult, byte**, CudaResult>)Get("cuGetErrorString");
        // CUDA 12 and later; an older driver has no tensor maps (and no sm_90), so it is looked up without counting as missing
        s_tensorMapEncodeTiled = NativeLibrary.TryGetExport(s_library, "cuTensorMapEncodeTiled", out var encode)
            ? (delegate* unmanaged<void*, int, uint, ulong, ulong*, ulong*, uint*, uint*, int, int, int, int, CudaResult>)encode : null;

        return missing.Count == 0
            ? null
            : $"The CUDA driver library lacks entry points: {string.Join(", ", missing)} (driver too old?).";
    }

    /// <summary>Throws <see cref="CudaException"/> when <paramref name="result"/> is not success.</summary>
    public static void Check(CudaResult result, string call)
    {
        if (result != CudaResult.Success)
            throw new CudaException(result, call);
    }

    /// <summary>cuGetErrorName, or null when unavailable.</summary>
    public static string? GetErrorName(CudaResult result)
    {
        if (!TryLoad(out _)) return null;
        byte* text = null;
        return s_getErrorName(result, &text) == CudaResult.Success && text != null ? Marshal.PtrToStringUTF8((nint)text) : null;
    }

    /// <summary>cuGetErrorString, or null when unavailable.</summary>
    public static string? GetErrorString(CudaResult result)
    {
        if (!TryLoad(out _)) return null;
        byte* text = null;
        return s_getErrorString(result, &text) == CudaResult.Success && text != null ? Marshal.PtrToStringUTF8((nint)text) : null;
    }

#pragma warning disable CS1591 // thin one-to-one wrappers of the driver functions of the same name
    public static CudaResult cuInit(uint flags) => s_init(flags);
    public static CudaResult cuDriverGetVersion(int* version) => s_driverGetVersion(version);
    public static CudaResult cuDeviceGetCount(int* count) => s_deviceGetCount(count);
    public static CudaResult cuDeviceGet(int* device, int ordinal) => s_deviceGet(device, ordinal);
    public static CudaResult cuDeviceGetName(byte* name, int length, int device) => s_deviceGetName(name, length, device);
    public static CudaResult cuDeviceGetAttribute(int* value, int attribute, int device) => s_deviceGetAttribute(value, attribute, device);
    public static CudaResult cuDeviceTotalMem(nuint* bytes, int device) => s_deviceTotalMem(bytes, device);
    public static CudaResult cuDevicePrimaryCtxRetain(nint* context, int device) => s_primaryCtxRetain(context, device);
    public static CudaResult cuDevicePrimaryCtxRelease(int device) => s_primaryCtxRelease(device);
    public static CudaResult cuCtxSetCurrent(nint context) => s_ctxSetCurrent(context);
    public static CudaResult cuCtxSynchronize() => s_ctxSynchronize();
    public static CudaResult cuCtxGetDevice(int* device) => s_ctxGetDevice(device);
    public static CudaResult cuCtxGetCurrent(nint* context) => s_ctxGetCurrent(context);
    public static CudaResult cuMemAlloc(ulong* pointer, nuint bytes) => s_memAlloc(pointer, bytes);
    public static CudaResult cuMemAllocManaged(ulong* pointer, nuint bytes, uint flags) => s_memAllocManaged(pointer, bytes, flags);

    /// <summary>cuMemAllocManaged: the memory is accessible from any stream (CU_MEM_ATTACH_GLOBAL).</summary>
    public const uint MemAttachGlobal = 1;
    public static CudaResult cuMemFree(ulong pointer) => s_memFree(pointer);
    public static CudaResult cuMemGetInfo(nuint* free, nuint* total) => s_memGetInfo(free, total);
    public static CudaResult cuMemcpyHtoD(ulong destination, void* source, nuint bytes) => s_memcpyHtoD(destination, source, bytes);
    public static CudaResult cuMemcpyDtoH(void* destination, ulong source, nuint bytes) => s_memcpyDtoH(destination, source, bytes);
    public static CudaResult cuMemcpyDtoD(ulong destination, ulong source, nuint bytes) => s_memcpyDtoD(destination, source, bytes);
    public static CudaResult cuMemcpyHtoDAsync(ulong destination, void* source, nuint bytes, nint stream) => s_memcpyHtoDAsync(destination, source, bytes, stream);
    public static CudaResult cuMemcpyDtoHAsync(void* destination, ulong source, nuint bytes, nint stream) => s_memcpyDtoHAsync(destination, source, bytes, stream);
    public static CudaResult cuMemcpyDtoDAsync(ulong destination, ulong source, nuint bytes, nint stream) => s_memcpyDtoDAsync(destination, source, bytes, stream);

    /// <summary>cuTensorMapEncodeTiled (CUDA 12): the 128-byte tensor map at <paramref name="tensorMap"/> (64-byte aligned) for a
    /// tensor at <paramref name="globalAddress"/>; <see cref="CudaResult.NotSupported"/> from a driver without it.</summary>
    public static CudaResult cuTensorMapEncodeTiled(void* tensorMap, int dataType, uint rank, ulong globalAddress, ulong* globalDimensions,
        ulong* globalStrides, uint* boxDimensions, uint* elementStrides, int interleave, int swizzle, int l2Promotion, int outOfBoundsFill)
        => s_tensorMapEncodeTiled is null
            ? CudaResult.NotSupported
            : s_tensorMapEncodeTiled(tensorMap, dataType, rank, globalAddress, globalDimensions, globalStrides, boxDimensions, elementStrides,
                interleave, swizzle, l2Promotion, outOfBoundsFill);
    public static CudaResult cuMemsetD8(ulong destination, byte value, nuint count) => s_memsetD8(destination, value, count);
    public static CudaResult cuMemHostRegister(void* pointer, nuint bytes, uint flags) => s_memHostRegister(pointer, bytes, flags);
    public static CudaResult cuMemHostUnregister(void* pointer) => s_memHostUnregister(pointer);
    public static CudaResult cuStreamCreate(nint* stream, uint flags) => s_streamCreate(stream, flags);
    public static CudaResult cuStreamDestroy(nint stream) => s_streamDestroy(stream);
    public static CudaResult cuStreamSynchronize(nint stream) => s_streamSynchronize(stream);
    public static CudaResult cuStreamWaitEvent(nint stream, nint evt, uint flags) => s_streamWaitEvent(stream, evt, flags);
    public static CudaResult cuEventCreate(nint* evt, uint flags) => s_eventCreate(evt, flags);
    public static CudaResult cuEventDestroy(nint evt) => s_eventDestroy(evt);
    public static CudaResult cuEventRecord(nint evt, nint stream) => s_eventRecord(evt, stream);
    public static CudaResult cuEventSynchronize(nint evt) => s_eventSynchronize(evt);
    public static CudaResult cuEventElapsedTime(float* milliseconds, nint start, nint end) => s_eventElapsedTime(milliseconds, start, end);
    public static CudaResult cuModuleLoadDataEx(nint* module, void* image, uint optionCount, int* options, void** optionValues)
        => s_moduleLoadDataEx(module, image, optionCount, options, optionValues);
    public static CudaResult cuModuleUnload(nint module) => s_moduleUnload(module);
    public static CudaResult cuModuleGetFunction(nint* function, nint module, byte* name) => s_moduleGetFunction(function, module, name);
    public static CudaResult cuFuncGetAttribute(int* value, int attribute, nint function) => s_funcGetAttribute(value, attribute, function);
    public static CudaResult cuFuncSetAttribute(nint function, int attribute, int value) => s_funcSetAttribute(function, attribute, value);
    public static CudaResult cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedBytes, nint stream, void** kernelParams, void** extra)
        => s_launchKernel(function, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes, stream, kernelParams, extra);
    public static CudaResult cuOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, nint function, int blockSize, nuint dynamicSharedBytes)
        => s_occupancyMaxActiveBlocks(blocks, function, blockSize, dynamicSharedBytes);
#pragma warning restore CS1591
}
