using System.Runtime.InteropServices;
using System.Text;

namespace FlashAttn.Compute.Runtime.Cuda;

/// <summary>
/// A PTX module JIT-compiled by the driver (cuModuleLoadDataEx) for the accelerator's device. A failed
/// load throws a <see cref="CudaException"/> whose <see cref="CudaException.JitLog"/> holds the JIT's error log.
/// </summary>
public sealed unsafe class CudaModule : IDisposable
{
    private const int LogBufferBytes = 64 * 1024;

    private readonly Dictionary<string, CudaFunction> _functions = [];
    private nint _handle;

    private CudaModule(CudaAccelerator accelerator, nint handle, string name, string infoLog)
    {
        Accelerator = accelerator;
        _handle = handle;
        Name = name;
        InfoLog = infoLog;
        accelerator.Track(this);
    }

    /// <summary>The accelerator the module is loaded on.</summary>
    public CudaAccelerator Accelerator { get; }

    /// <summary>A name for messages (the kernel's name for compiled kernels).</summary>
    public string Name { get; }

    /// <summary>The JIT compiler's information log (register and spill reports; empty when it said nothing).</summary>
    public string InfoLog { get; }

    /// <summary>True once unloaded.</summary>
    public bool IsDisposed => _handle == 0;

    /// <summary>Loads <paramref name="ptx"/> on <paramref name="accelerator"/>.</summary>
    /// <param name="accelerator">The device to load on.</param>
    /// <param name="ptx">PTX text (with .version and .target).</param>
    /// <param name="name">A name for error messages (default "module").</param>
    /// <param name="verbose">Ask the JIT for a verbose info log (CU_JIT_LOG_VERBOSE).</param>
    /// <exception cref="CudaException">The JIT rejected the PTX; the message includes its error log.</exception>
    public static CudaModule Load(CudaAccelerator accelerator, string ptx, string? name = null, bool verbose = false)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentNullException.ThrowIfNull(ptx);
        accelerator.ThrowIfDisposed();
        accelerator.MakeCurrent();
        name ??= "module";

        // The image must be NUL-terminated text.
        byte[] image = new byte[Encoding.UTF8.GetByteCount(ptx) + 1];
        Encoding.UTF8.GetBytes(ptx, image);
        byte* infoLog = (byte*)NativeMemory.AllocZeroed(LogBufferBytes);
        byte* errorLog = (byte*)NativeMemory.AllocZeroed(LogBufferBytes);
        try
        {
            int* options = stackalloc int[5];
            void** values = stackalloc void*[5];
            options[0] = CudaApi.JitInfoLogBuffer; values[0] = infoLog;
            options[1] = CudaApi.JitInfoLogBufferSizeBytes; values[1] = (void*)(nuint)LogBufferBytes;
            options[2] = CudaApi.JitErrorLogBuffer; values[2] = errorLog;
            options[3] = CudaApi.JitErrorLogBufferSizeBytes; values[3] = (void*)(nuint)LogBufferBytes;
            options[4] = CudaApi.JitLogVerbose; values[4] = (void*)(nuint)(verbose ? 1 : 0);

            nint handle;
            CudaResult result;
            fixed (byte* imagePointer = image)
                result = CudaApi.cuModuleLoadDataEx(&handle, imagePointer, 5, options, values);
            string info = ReadLog(infoLog);
            if (result != CudaResult.Success)
            {
                string error = ReadLog(errorLog);
                if (error.Length == 0) error = info;
                throw new CudaException(result, "cuModuleLoadDataEx", name, error);
            }
            return new CudaModule(accelerator, handle, name, info);
        }
        finally
        {
            NativeMemory.Free(infoLog);
            NativeMemory.Free(errorLog);
        }
    }

    /// <summary>The <c>.entry</c> named <paramref name="entryName"/>.</summary>
    /// <exception cref="CudaException">No such entry (CUDA_ERROR_NOT_FOUND).</exception>
    public CudaFunction GetFunction(string entryName)
    {
        ArgumentNullException.ThrowIfNull(entryName);
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        lock (_functions)
        {
            if (_functions.TryGetValue(entryName, out var function)) return function;
            Accelerator.MakeCurrent();
            byte[] nameBytes = new byte[Encoding.UTF8.GetByteCount(entryName) + 1];
            Encoding.UTF8.GetBytes(entryName, nameBytes);
            nint handle;
            fixed (byte* namePointer = nameBytes)
            {
                var result = CudaApi.cuModuleGetFunction(&handle, _handle, namePointer);
                if (result != CudaResult.Success) throw new CudaException(result, "cuModuleGetFunction", entryName);
            }
            return _functions[entryName] = new CudaFunction(this, handle, entryName);
        }
    }

    private static string ReadLog(byte* buffer)
        => (Marshal.PtrToStringUTF8((nint)buffer) ?? "").TrimEnd('\0', '\n', '\r', ' ');

    /// <summary>Unloads the module; its functions become unusable.</summary>
    public void Dispose()
    {
        if (_handle == 0) return;
        var handle = _handle;
        _handle = 0;
        Accelerator.Untrack(this);
        if (!Accelerator.IsDisposed) Accelerator.MakeCurrent();
        CudaApi.Check(CudaApi.cuModuleUnload(handle), "cuModuleUnload");
    }
}
