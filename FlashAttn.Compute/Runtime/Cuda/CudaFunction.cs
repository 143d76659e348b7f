namespace FlashAttn.Compute.Runtime.Cuda;

/// <summary>What the driver reports about a compiled function (cuFuncGetAttribute).</summary>
/// <param name="RegistersPerThread">Registers per thread (CU_FUNC_ATTRIBUTE_NUM_REGS).</param>
/// <param name="LocalBytesPerThread">Local memory per thread: register spills and stack (CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES). 0 means no spills.</param>
/// <param name="StaticSharedBytes">Statically declared shared memory (CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES).</param>
/// <param name="ConstantBytes">User constant memory (CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES).</param>
/// <param name="MaxThreadsPerGroup">Most threads per group a launch may use given the register count (CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK).</param>
/// <param name="PtxVersion">PTX ISA version the function was compiled from, major·10 + minor.</param>
/// <param name="BinaryVersion">Architecture of the binary, major·10 + minor.</param>
/// <param name="MaxDynamicSharedBytes">Current dynamic shared memory limit (CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES).</param>
public sealed record FunctionAttributes(
    int RegistersPerThread, int LocalBytesPerThread, int StaticSharedBytes, int ConstantBytes,
    int MaxThreadsPerGroup, int PtxVersion, int BinaryVersion, int MaxDynamicSharedBytes)
{
    /// <summary>True when the function uses no local memory (no register spills, no stack).</summary>
    public bool HasNoSpills => LocalBytesPerThread == 0;
}

/// <summary>A kernel entry of a loaded <see cref="CudaModule"/>: attributes, occupancy and raw launches.</summary>
public sealed unsafe class CudaFunction
{
    /// <summary>Dynamic shared memory a launch may use without opting in.</summary>
    public const int DefaultDynamicSharedLimit = 48 * 1024;

    private readonly object _sharedLock = new();
    private int _maxDynamicShared = DefaultDynamicSharedLimit;

    internal CudaFunction(CudaModule module, nint handle, string name)
    {
        Module = module;
        Handle = handle;
        Name = name;
    }

    /// <summary>The module holding the function.</summary>
    public CudaModule Module { get; }

    /// <summary>The entry name.</summary>
    public string Name { get; }

    /// <summary>The driver's <c>CUfunction</c> handle.</summary>
    internal nint Handle { get; }

    private CudaAccelerator Accelerator => Module.Accelerator;

    /// <summary>Queries the function's attributes.</summary>
    public FunctionAttributes GetAttributes()
    {
        ThrowIfUnusable();
        return new FunctionAttributes(
            Attribute(CudaApi.FuncAttributeNumRegs),
            Attribute(CudaApi.FuncAttributeLocalSizeBytes),
            Attribute(CudaApi.FuncAttributeSharedSizeBytes),
            Attribute(CudaApi.FuncAttributeConstSizeBytes),
            Attribute(CudaApi.FuncAttributeMaxThreadsPerBlock),
            Attribute(CudaApi.FuncAttributePtxVersion),
            Attribute(CudaApi.FuncAttributeBinaryVersion),
            Attribute(CudaApi.FuncAttributeMaxDynamicSharedSizeBytes));
    }

    /// <summary>
    /// Lets launches use up to <paramref name="bytes"/> of dynamic shared memory (needed above 48 KB;
    /// cuFuncSetAttribute with CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES). Only ever raises the limit.
    /// </summary>
    public void EnsureDynamicSharedBytes(int bytes)
    {
        if (bytes <= Volatile.Read(ref _maxDynamicShared)) return;
        lock (_sharedLock)
        {
            if (bytes <= _maxDynamicShared) return;
            ThrowIfUnusable();
            var result = CudaApi.cuFuncSetAttribute(Handle, CudaApi.FuncAttributeMaxDynamicSharedSizeBytes, bytes);
            if (result != CudaResult.Success) throw new CudaException(result, "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", Name);
            Volatile.Write(ref _maxDynamicShared, bytes);
        }
    }

    /// <summary>
    /// How many groups of <paramref name="groupSize"/> threads using <paramref name="dynamicSharedBytes"/> of
    /// dynamic shared memory fit on one multiprocessor at once (cuOccupancyMaxActiveBlocksPerMultiprocessor).
    /// </summary>
    public int MaxActiveGroupsPerMultiprocessor(int groupSize, int dynamicSharedBytes = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(groupSize);
        ArgumentOutOfRangeException.ThrowIfNegative(dynamicSharedBytes);
        ThrowIfUnusable();
        int groups;
        var result = CudaApi.cuOccupancyMaxActiveBlocksPerMultiprocessor(&groups, Handle, groupSize, (nuint)dynamicSharedBytes);
        if (result != CudaResult.Success) throw new CudaException(result, "cuOccupancyMaxActiveBlocksPerMultiprocessor", Name);
        return groups;
    }

    /// <summary>
    /// Launches with raw parameters: <paramref name="parameters"/> holds one pointer per <c>.param</c> of the
    /// entry, each to its value (cuLaunchKernel's kernelParams). Opts in to dynamic shared memory above 48 KB.
    /// </summary>
    public void Launch(LaunchConfig config, ReadOnlySpan<nint> parameters, CudaStream? stream = null)
    {
        ThrowIfUnusable();
        if (config.DynamicSharedBytes > DefaultDynamicSharedLimit) EnsureDynamicSharedBytes(config.DynamicSharedBytes);
        stream ??= Accelerator.Stream;
        fixed (nint* parameterPointers = parameters)
        {
            var result = CudaApi.cuLaunchKernel(Handle,
                (uint)config.Grid.X, (uint)config.Grid.Y, (uint)config.Grid.Z,
                (uint)config.Group.X, (uint)config.Group.Y, (uint)config.Group.Z,
                (uint)config.DynamicSharedBytes, stream.Handle,
                parameters.IsEmpty ? null : (void**)parameterPointers, null);
            if (result != CudaResult.Success)
                throw new CudaException(result, "cuLaunchKernel", Name);
        }
    }

    private int Attribute(int attribute)
    {
        int value;
        var result = CudaApi.cuFuncGetAttribute(&value, attribute, Handle);
        if (result != CudaResult.Success) throw new CudaException(result, "cuFuncGetAttribute", Name);
        return value;
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(Module.IsDisposed, Module);
        Accelerator.ThrowIfDisposed();
        Accelerator.MakeCurrent();
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
