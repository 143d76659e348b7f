using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using FlashAttn.Compute.Backends.Ptx;
using FlashAttn.Compute.Frontend;
using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Runtime.Cuda;

/// <summary>
/// Compiled kernels keyed by (method incl. generic arguments and assembly version, specialization values,
/// device compute capability and driver version): in memory, and optionally on disk as PTX files (with a
/// comment header holding what the host needs to launch). Disk files are written atomically; unreadable
/// or corrupted ones are ignored and the kernel is recompiled. Thread-safe; a kernel compiles once even
/// when launched from several threads at once.
/// </summary>
public sealed class KernelCache
{
    /// <summary>Environment variable naming the on-disk cache directory.</summary>
    public const string EnvironmentVariable = "FLASHATTN_KERNEL_CACHE";

    private const string Magic = "// flashattn kernel cache v1";
    private const string BlockPrefix = "Block";

    private readonly ConcurrentDictionary<string, Lazy<CompiledKernel>> _memory = new();
    private int _compilations, _memoryHits, _diskHits;

    /// <summary>Creates a cache over <paramref name="compiler"/>.</summary>
    /// <param name="compiler">Compiles on a miss.</param>
    /// <param name="diskDirectory">Directory for PTX files, or null for memory only. Created when missing.</param>
    public KernelCache(IKernelCompiler compiler, string? diskDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(compiler);
        Compiler = compiler;
        DiskDirectory = string.IsNullOrWhiteSpace(diskDirectory) ? null : Path.GetFullPath(diskDirectory);
    }

    /// <summary>
    /// A cache whose disk directory comes from <see cref="EnvironmentVariable"/> (see <see cref="DirectoryFromSetting"/>):
    /// by default the user's cache folder, so a second process skips the IL → PTX compilation (about a second per
    /// attention kernel); "off" keeps it in memory.
    /// </summary>
    public static KernelCache CreateDefault(IKernelCompiler compiler)
        => new(compiler, DirectoryFromSetting(Environment.GetEnvironmentVariable(EnvironmentVariable)));

    /// <summary>
    /// The disk directory for a value of <see cref="EnvironmentVariable"/>: unset or blank → LocalApplicationData/flashattn/kernels
    /// (null when the platform has no such folder), "off" → null (memory only), anything else → that path.
    /// </summary>
    public static string? DirectoryFromSetting(string? setting)
    {
        if (string.Equals(setting?.Trim(), "off", StringComparison.OrdinalIgnoreCase)) return null;
        if (!string.IsNullOrWhiteSpace(setting)) return setting;
        string root = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        return string.IsNullOrEmpty(root) ? null : Path.Combine(root, "flashattn", "kernels");
    }

    /// <summary>The compiler used on a miss.</summary>
    public IKernelCompiler Compiler { get; }

    /// <summary>The on-disk directory, or null.</summary>
    public string? DiskDirectory { get; }

    /// <summary>Number of times the compiler ran.</summary>
    public int Compilations => Volatile.Read(ref _compilations);

    /// <summary>Number of lookups answered from memory.</summary>
    public int MemoryHits => Volatile.Read(ref _memoryHits);

    /// <summary>Number of kernels read back from disk.</summary>
    public int DiskHits => Volatile.Read(ref _diskHits);

    /// <summary>Forgets the in-memory entries (disk files stay).</summary>
    public void ClearMemory() => _memory.Clear();

    /// <summary>The compiled kernel for <paramref name="method"/> on a device, compiling it on a miss.</summary>
    /// <param name="method">The closed kernel method.</param>
    /// <param name="specializations">Per parameter: the specialized value, or null.</param>
    /// <param name="computeCapability">The device's major·10 + minor.</param>
    /// <param name="driverVersion">cuDriverGetVersion.</param>
    public CompiledKernel GetOrCompile(MethodInfo method, IReadOnlyList<object?> specializations, int computeCapability, int driverVersion)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(specializations);
        var target = PtxTarget.For(driverVersion, computeCapability);
        string key = CreateKey(method, specializations, computeCapability, driverVersion);
        if (_memory.TryGetValue(key, out var existing) && existing.IsValueCreated)
        {
            Interlocked.Increment(ref _memoryHits);
            return existing.Value;
        }
        bool created = false;
        var lazy = _memory.GetOrAdd(key, k => new Lazy<CompiledKernel>(() =>
        {
            created = true;
            return Load(k, method, specializations, target);
        }, LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            var kernel = lazy.Value;
            if (!created) Interlocked.Increment(ref _memoryHits);
            return kernel;
        }
        catch
        {
            _memory.TryRemove(new KeyValuePair<string, Lazy<CompiledKernel>>(key, lazy));
            throw;
        }
    }

    private CompiledKernel Load(string key, MethodInfo method, IReadOnlyList<object?> specializations, PtxTarget target)
    {
        string? path = DiskDirectory is null ? null : Path.Combine(DiskDirectory, FileNameFor(key));
        if (path is not null && TryRead(path, key, method) is { } cached)
        {
            Interlocked.Increment(ref _diskHits);
            return cached;
        }
        var kernel = Compiler.Compile(method, specializations, target)
            ?? throw new InvalidOperationException($"The kernel compiler returned nothing for {method.Name}.");
        Interlocked.Increment(ref _compilations);
        if (path is not null) TryWrite(path, Serialize(key, kernel));
        return kernel;
    }

    /// <summary>The modules of a type and of its generic arguments, nested (their builds are part of the kernel's code).</summary>
    private static IEnumerable<Module> ModulesOf(Type type)
    {
        yield return type.Module;
        if (!type.IsGenericType) yield break;
        foreach (var argument in type.GetGenericArguments())
            foreach (var module in ModulesOf(argument))
                yield return module;
    }

    /// <summary>The cache key: method identity, specialization values and device, one item per line.</summary>
    public static string CreateKey(MethodInfo method, IReadOnlyList<object?> specializations, int computeCapability, int driverVersion)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(specializations);
        var text = new StringBuilder();
        text.Append("engine ").Append(typeof(KernelCache).Assembly.ManifestModule.ModuleVersionId).Append('\n');
        text.Append("if-conversion ").Append(IR.Transformations.OptimizerOptions.IfConversionDefault).Append('\n');
        text.Append("coalesce-phis ").Append(Backends.Ptx.PtxEmitOptions.CoalescePhisDefault).Append('\n');
        var module = method.Module;
        text.Append("assembly ").Append(module.Assembly.GetName().Name).Append(' ').Append(module.ModuleVersionId).Append('\n');
        text.Append("type ").Append(method.DeclaringType?.FullName ?? "<global>").Append('\n');
        text.Append("method ").Append(method).Append(" #").Append(method.MetadataToken.ToString("X8", CultureInfo.InvariantCulture)).Append('\n');
        foreach (var argument in method.IsGenericMethod ? method.GetGenericArguments() : [])
        {
            text.Append("generic ").Append(argument.AssemblyQualifiedName ?? argument.FullName ?? argument.Name).Append('\n');
            // a user's modifier struct is compiled into the kernel: its code may change without its assembly's version
            foreach (var argumentModule in ModulesOf(argument))
                text.Append("generic-module ").Append(argumentModule.Assembly.GetName().Name).Append(' ').Append(argumentModule.ModuleVersionId).Append('\n');
        }
        for (int i = 0; i < specializations.Count; i++)
            if (specializations[i] is { } value)
                text.Append("spec ").Append(i).Append(' ').Append(FormatValue(value)).Append('\n');
        var target = PtxTarget.For(driverVersion, computeCapability);
        text.Append("device sm_").Append(computeCapability).Append(" driver ").Append(driverVersion)
            .Append(" ptx ").Append(target.IsaVersion).Append(' ').Append(target.TargetName).Append('\n');
        return text.ToString();
    }

    /// <summary>The disk file name for <paramref name="key"/>: its SHA-256 in hex, ".ptx".</summary>
    public static string FileNameFor(string key) => Sha256(key) + ".ptx";

    private static string FormatValue(object value) => value switch
    {
        float f => $"f32 0x{BitConverter.SingleToUInt32Bits(f):X8}",
        double d => $"f64 0x{BitConverter.DoubleToUInt64Bits(d):X16}",
        Half h => $"f16 0x{BitConverter.HalfToUInt16Bits(h):X4}",
        IFormattable f => $"{value.GetType().FullName} {f.ToString(null, CultureInfo.InvariantCulture)}",
        _ => $"{value.GetType().FullName} {value}",
    };

    private static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>The file text for a compiled kernel: a comment header, then the PTX (so the file stays valid PTX).</summary>
    internal static string Serialize(string key, CompiledKernel kernel)
    {
        var text = new StringBuilder();
        text.Append(Magic).Append('\n');
        text.Append("// key-sha256: ").Append(Sha256(key)).Append('\n');
        text.Append("// entry: ").Append(kernel.EntryName).Append('\n');
        text.Append("// static-shared: ").Append(kernel.StaticSharedBytes.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("// slots: ").Append(kernel.Slots.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        foreach (var slot in kernel.Slots)
        {
            string path = slot.FieldPath.Count == 0 ? "-" : string.Join("/", slot.FieldPath.Select(f => f.Name));
            string type = slot.ByValueBytes > 0 ? $"{BlockPrefix}{slot.ByValueBytes.ToString(CultureInfo.InvariantCulture)}"
                : slot.Type.IsPointer ? $"Pointer.{slot.Type.Space}" : slot.Type.Kind.ToString();
            text.Append("// slot: ").Append(slot.ArgumentIndex.ToString(CultureInfo.InvariantCulture)).Append(' ')
                .Append(path).Append(' ').Append(type).Append('\n');
        }
        text.Append("// ptx-sha256: ").Append(Sha256(kernel.Ptx)).Append('\n');
        text.Append("// end\n");
        text.Append(kernel.Ptx);
        return text.ToString();
    }

    /// <summary>Reads back <see cref="Serialize"/>'s text; null when it is malformed, corrupted or for another key.</summary>
    internal static CompiledKernel? Deserialize(string text, string key, MethodInfo method)
    {
        try
        {
            int position = 0;
            string? Line()
            {
                if (position >= text.Length) return null;
                int end = text.IndexOf('\n', position);
                if (end < 0) return null;
                string line = text[position..end];
                position = end + 1;
                return line;
            }
            string? Field(string name)
            {
                string prefix = $"// {name}: ";
                var line = Line();
                return line is not null && line.StartsWith(prefix, StringComparison.Ordinal) ? line[prefix.Length..] : null;
            }

            if (Line() != Magic) return null;
            if (Field("key-sha256") != Sha256(key)) return null;
            string? entry = Field("entry");
            if (string.IsNullOrEmpty(entry)) return null;
            if (!int.TryParse(Field("static-shared"), NumberStyles.None, CultureInfo.InvariantCulture, out int shared)) return null;
            if (!int.TryParse(Field("slots"), NumberStyles.None, CultureInfo.InvariantCulture, out int count)) return null;
            var parameters = method.GetParameters();
            var slots = new List<KernelParameterSlot>(count);
            for (int i = 0; i < count; i++)
            {
                var parts = Field("slot")?.Split(' ');
                if (parts is not { Length: 3 }) return null;
                if (!int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int argument) || argument >= parameters.Length) return null;
                var fields = new List<FieldInfo>();
                var type = parameters[argument].ParameterType;
                if (parts[1] != "-")
                {
                    foreach (var name in parts[1].Split('/'))
                    {
                        var field = type.GetField(name, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
                        if (field is null) return null;
                        fields.Add(field);
                        type = field.FieldType;
                    }
                }
                if (parts[2].StartsWith(BlockPrefix, StringComparison.Ordinal))
                {
                    // a block passed by value (a tensor map): its IR parameter is the block's address
                    if (!int.TryParse(parts[2][BlockPrefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int bytes) || bytes < 1) return null;
                    slots.Add(new KernelParameterSlot(argument, fields, IRType.GenericPointer, bytes));
                    continue;
                }
                var irType = ParseType(parts[2]);
                if (irType is null) return null;
                slots.Add(new KernelParameterSlot(argument, fields, irType));
            }
            string? ptxHash = Field("ptx-sha256");
            if (Line() != "// end") return null;
            string ptx = text[position..];
            if (ptxHash != Sha256(ptx)) return null;
            return new CompiledKernel(entry, ptx, slots, shared);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or AmbiguousMatchException)
        {
            return null;
        }
    }

    private static IRType? ParseType(string text)
    {
        if (text.StartsWith("Pointer.", StringComparison.Ordinal))
            return Enum.TryParse<AddressSpace>(text["Pointer.".Length..], out var space) && Enum.IsDefined(space) ? IRType.Pointer(space) : null;
        if (!Enum.TryParse<TypeKind>(text, out var kind)) return null;
        return kind switch
        {
            TypeKind.Bool => IRType.Bool,
            TypeKind.Int8 => IRType.Int8,
            TypeKind.Int16 => IRType.Int16,
            TypeKind.Int32 => IRType.Int32,
            TypeKind.Int64 => IRType.Int64,
            TypeKind.Float16 => IRType.Float16,
            TypeKind.BFloat16 => IRType.BFloat16,
            TypeKind.Float32 => IRType.Float32,
            TypeKind.Float64 => IRType.Float64,
            _ => null,
        };
    }

    private static CompiledKernel? TryRead(string path, string key, MethodInfo method)
    {
        try
        {
            return File.Exists(path) ? Deserialize(File.ReadAllText(path, Encoding.UTF8), key, method) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DecoderFallbackException)
        {
            return null;
        }
    }

    private static void TryWrite(string path, string text)
    {
        string temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(temporary, text, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The disk cache is best effort: a read-only or full disk only costs recompilation.
            try { File.Delete(temporary); } catch (Exception d) when (d is IOException or UnauthorizedAccessException) { }
        }
    }
}
