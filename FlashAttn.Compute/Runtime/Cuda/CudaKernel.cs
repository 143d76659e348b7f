using System.Collections.Concurrent;
using System.Reflection;

namespace FlashAttn.Compute.Runtime.Cuda;

/// <summary>
/// A kernel on a <see cref="CudaAccelerator"/>. Each distinct set of <see cref="SpecializedValue{T}"/>
/// arguments is its own variant: compiled through the accelerator's <see cref="KernelCache"/> at its first
/// launch, loaded as a module, and launched with the other arguments packed into the entry's parameters.
/// </summary>
public sealed unsafe class CudaKernel : Kernel
{
    private const int StackBufferLimit = 1024;

    private readonly CudaAccelerator _accelerator;
    private readonly ParameterInfo[] _parameters;
    private readonly int[] _specialized;
    private readonly PropertyInfo?[] _specializedValue;
    private readonly ConcurrentDictionary<SpecializationKey, Lazy<Variant>> _variants = new();
    private Variant? _single;

    internal CudaKernel(CudaAccelerator accelerator, MethodInfo method) : base(accelerator, method)
    {
        _accelerator = accelerator;
        var parameters = _parameters = method.GetParameters();
        _specialized = [.. Enumerable.Range(0, parameters.Length).Where(i => IsSpecialized(parameters[i].ParameterType))];
        _specializedValue = new PropertyInfo?[parameters.Length];
        foreach (int i in _specialized)
            _specializedValue[i] = parameters[i].ParameterType.GetProperty(nameof(SpecializedValue<int>.Value));
    }

    /// <summary>True for <see cref="SpecializedValue{T}"/> parameter types.</summary>
    internal static bool IsSpecialized(Type type) => type.IsGenericType && type.GetGenericTypeDefinition() == typeof(SpecializedValue<>);

    /// <summary>
    /// The loaded function for the specialization <paramref name="arguments"/> select (compiling it if needed):
    /// its attributes (registers, spills) and occupancy. Only the <see cref="SpecializedValue{T}"/> arguments matter.
    /// </summary>
    public CudaFunction GetFunction(params object[] arguments) => GetVariant(arguments).Function;

    /// <summary>The compiled kernel (PTX, slots) for the specialization <paramref name="arguments"/> select.</summary>
    public CompiledKernel GetCompiledKernel(params object[] arguments) => GetVariant(arguments).Compiled;

    /// <inheritdoc/>
    protected override void LaunchCore(LaunchConfig config, object[] arguments)
    {
        var variant = GetVariant(arguments);
        int totalShared = variant.Compiled.StaticSharedBytes + config.DynamicSharedBytes;
        if (totalShared > _accelerator.Info.MaxSharedMemoryPerGroup)
            throw new ArgumentException(
                $"Kernel {Method.Name} declares {variant.Compiled.StaticSharedBytes} bytes of static shared memory; with {config.DynamicSharedBytes} dynamic bytes " +
                $"that exceeds the device's {_accelerator.Info.MaxSharedMemoryPerGroup} bytes per group.", nameof(config));

        var marshaller = variant.Marshaller;
        int size = marshaller.BufferSize;
        byte[]? heapBuffer = size > StackBufferLimit ? new byte[size + 8] : null;
        Span<byte> stackBuffer = heapBuffer is null ? stackalloc byte[size + 8] : default;
        Span<nint> pointers = marshaller.SlotCount <= 128 ? stackalloc nint[marshaller.SlotCount] : new nint[marshaller.SlotCount];
        fixed (byte* raw = heapBuffer is null ? stackBuffer : heapBuffer)
        {
            byte* buffer = (byte*)(((nint)raw + 7) & ~(nint)7);
            marshaller.Pack(arguments, buffer);
            marshaller.GetParameterPointers(buffer, pointers);
            variant.Function.Launch(config, pointers);
        }
    }

    private Variant GetVariant(object[] arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        _accelerator.ThrowIfDisposed();
        if (_specialized.Length == 0)
        {
            var single = Volatile.Read(ref _single);
            if (single is not null) return single;
        }
        else if (arguments.Length != _parameters.Length)
        {
            throw new ArgumentException($"Kernel {Method.Name} takes {_parameters.Length} arguments; {arguments.Length} were given.", nameof(arguments));
        }

        var values = new object?[_specialized.Length];
        for (int i = 0; i < _specialized.Length; i++)
        {
            var argument = arguments[_specialized[i]];
            var expected = _parameters[_specialized[i]].ParameterType;
            if (argument is null || argument.GetType() != expected)
                throw new ArgumentException($"Kernel {Method.Name} argument {_specialized[i]} must be {expected.Name}.", nameof(arguments));
            values[i] = argument;
        }
        var key = new SpecializationKey(values);
        var lazy = _variants.GetOrAdd(key, k => new Lazy<Variant>(() => CreateVariant(k), LazyThreadSafetyMode.ExecutionAndPublication));
        Variant variant;
        try
        {
            variant = lazy.Value;
        }
        catch
        {
            _variants.TryRemove(new KeyValuePair<SpecializationKey, Lazy<Variant>>(key, lazy));
            throw;
        }
        if (_specialized.Length == 0) Volatile.Write(ref _single, variant);
        return variant;
    }

    private Variant CreateVariant(SpecializationKey key)
    {
        var cache = _accelerator.KernelCache ?? throw new InvalidOperationException(
            $"Cannot compile kernel {Method.Name}: the CUDA accelerator has no kernel compiler. " +
            $"Set {nameof(CudaAccelerator)}.{nameof(CudaAccelerator.DefaultKernelCompiler)} or pass a {nameof(KernelCache)}.");
        var specializations = new object?[_parameters.Length];
        for (int i = 0; i < _specialized.Length; i++)
            specializations[_specialized[i]] = _specializedValue[_specialized[i]]!.GetValue(key.Values[i]);
        var compiled = cache.GetOrCompile(Method, specializations, _accelerator.Info.ComputeCapability, _accelerator.DriverVersion);
        var marshaller = new KernelArgumentMarshaller(Method, compiled.Slots);
        var module = CudaModule.Load(_accelerator, compiled.Ptx, Method.Name);
        try
        {
            return new Variant(compiled, module.GetFunction(compiled.EntryName), marshaller);
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    private sealed record Variant(CompiledKernel Compiled, CudaFunction Function, KernelArgumentMarshaller Marshaller);

    /// <summary>The boxed <see cref="SpecializedValue{T}"/> arguments, compared by value.</summary>
    private readonly struct SpecializationKey(object?[] values) : IEquatable<SpecializationKey>
    {
        public object?[] Values { get; } = values;

        public bool Equals(SpecializationKey other)
        {
            if (Values.Length != other.Values.Length) return false;
            for (int i = 0; i < Values.Length; i++)
                if (!Equals(Values[i], other.Values[i])) return false;
            return true;
        }

        public override bool Equals(object? obj) => obj is SpecializationKey other && Equals(other);

        public override int GetHashCode()
        {
            var hash = new HashCode();
            foreach (var value in Values) hash.Add(value);
            return hash.ToHashCode();
        }
    }
}
