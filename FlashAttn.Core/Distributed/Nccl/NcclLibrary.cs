using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace FlashAttn.Distributed;

/// <summary>
/// NCCL (<c>libnccl.so.2</c>) bound at run time through <see cref="NativeLibrary"/> and unmanaged function pointers, as
/// the CUDA driver is: no NCCL headers or toolkit are needed to build, and a machine without NCCL fails only when a
/// group is created. The file comes from <c>FLASHATTN_NCCL_LIBRARY</c> when set, else <c>libnccl.so.2</c> or
/// <c>libnccl.so</c> on the loader's search path.
/// </summary>
/// <remarks>
/// <see cref="Load"/> caches the first library that loads; a failure is not cached, so a later call (after the variable
/// was set) tries again. <see cref="TryLoad"/> never touches the cache, so tests can try a bad path without poisoning
/// a real load. Handles: <c>ncclComm_t</c> and <c>cudaStream_t</c> are nint; <c>size_t</c> is nuint.
/// </remarks>
internal sealed unsafe class NcclLibrary
{
    /// <summary>The environment variable naming the NCCL library file.</summary>
    public const string LibraryVariable = "FLASHATTN_NCCL_LIBRARY";

    /// <summary>Where PyTorch's pip wheel ships NCCL, for messages.</summary>
    internal const string PipWheelHint = "PyTorch's pip wheel ships one as site-packages/nvidia/nccl/lib/libnccl.so.2";

    private static readonly object s_lock = new();
    private static NcclLibrary? s_shared;

    private readonly delegate* unmanaged<int*, NcclResult> _getVersion;
    private readonly delegate* unmanaged<NcclUniqueIdNative*, NcclResult> _getUniqueId;
    private readonly delegate* unmanaged<nint*, int, NcclUniqueIdNative, int, NcclResult> _commInitRank;
    private readonly delegate* unmanaged<nint*, int, int*, NcclResult> _commInitAll;
    private readonly delegate* unmanaged<nint, NcclResult> _commDestroy;
    private readonly delegate* unmanaged<nint, NcclResult> _commAbort;
    private readonly delegate* unmanaged<NcclResult, byte*> _getErrorString;
    private readonly delegate* unmanaged<nint, byte*> _getLastError; // NCCL ≥ 2.13; null before
    private readonly delegate* unmanaged<NcclResult> _groupStart;
    private readonly delegate* unmanaged<NcclResult> _groupEnd;
    private readonly delegate* unmanaged<void*, nuint, NcclDataType, int, nint, nint, NcclResult> _send;
    private readonly delegate* unmanaged<void*, nuint, NcclDataType, int, nint, nint, NcclResult> _recv;
    private readonly delegate* unmanaged<void*, void*, nuint, NcclDataType, nint, nint, NcclResult> _allGather;

    /// <summary>File names tried, in order, when <see cref="LibraryVariable"/> is not set.</summary>
    public static IReadOnlyList<string> DefaultNames { get; } = ["libnccl.so.2", "libnccl.so"];

    private NcclLibrary(nint handle, string name, IList<string> missing)
    {
        Name = name;
        nint Get(string export, bool required = true)
        {
            if (NativeLibrary.TryGetExport(handle, export, out var address)) return address;
            if (required) missing.Add(export);
            return 0;
        }

        _getVersion = (delegate* unmanaged<int*, NcclResult>)Get("ncclGetVersion");
        _getUniqueId = (delegate* unmanaged<NcclUniqueIdNative*, NcclResult>)Get("ncclGetUniqueId");
        _commInitRank = (delegate* unmanaged<nint*, int, NcclUniqueIdNative, int, NcclResult>)Get("ncclCommInitRank");
        _commInitAll = (delegate* unmanaged<nint*, int, int*, NcclResult>)Get("ncclCommInitAll");
        _commDestroy = (delegate* unmanaged<nint, NcclResult>)Get("ncclCommDestroy");
        _commAbort = (delegate* unmanaged<nint, NcclResult>)Get("ncclCommAbort");
        _getErrorString = (delegate* unmanaged<NcclResult, byte*>)Get("ncclGetErrorString");
        _getLastError = (delegate* unmanaged<nint, byte*>)Get("ncclGetLastError", required: false);
        _groupStart = (delegate* unmanaged<NcclResult>)Get("ncclGroupStart");
        _groupEnd = (delegate* unmanaged<NcclResult>)Get("ncclGroupEnd");
        _send = (delegate* unmanaged<void*, nuint, NcclDataType, int, nint, nint, NcclResult>)Get("ncclSend");
        _recv = (delegate* unmanaged<void*, nuint, NcclDataType, int, nint, nint, NcclResult>)Get("ncclRecv");
        _allGather = (delegate* unmanaged<void*, void*, nuint, NcclDataType, nint, nint, NcclResult>)Get("ncclAllGather");

        if (missing.Count == 0)
        {
            int code = 0;
            VersionCode = _getVersion(&code) == NcclResult.Success ? code : 0;
        }
    }

    /// <summary>The name or path the library was loaded from.</summary>
    public string Name { get; }

    /// <summary>NCCL's version code (ncclGetVersion), e.g. 22105 for 2.21.5; 0 if it would not say.</summary>
    public int VersionCode { get; }

    /// <summary>The version as major.minor.patch.</summary>
    public Version Version => DecodeVersion(VersionCode);

    /// <summary>Reads an NCCL version code: major*10000 + minor*100 + patch from 2.9 on, major*1000 + minor*100 + patch before.</summary>
    internal static Version DecodeVersion(int code) => code >= 10000
        ? new Version(code / 10000, code / 100 % 100, code % 100)
        : new Version(code / 1000, code / 100 % 10, code % 100);

    /// <summary>
    /// The process's NCCL library, loaded at the first successful call and kept (from <see cref="LibraryVariable"/>'s
    /// path when set, else <see cref="DefaultNames"/>).
    /// </summary>
    /// <exception cref="DeviceUnavailableException">The library is missing or lacks entry points; the message names what
    /// was tried and the variable to set.</exception>
    public static NcclLibrary Load()
    {
        lock (s_lock)
        {
            return s_shared ??= LoadFrom(Environment.GetEnvironmentVariable(LibraryVariable));
        }
    }

    /// <summary>True when <see cref="Load"/> succeeds. Never throws.</summary>
    public static bool IsAvailable
    {
        get
        {
            lock (s_lock)
            {
                if (s_shared is not null) return true;
                if (!TryLoad(Environment.GetEnvironmentVariable(LibraryVariable), out var library, out _)) return false;
                s_shared = library;
                return true;
            }
        }
    }

    /// <summary>Loads the library from <paramref name="configuredPath"/> (the value of <see cref="LibraryVariable"/>;
    /// null or blank for <see cref="DefaultNames"/>) without caching it.</summary>
    /// <exception cref="DeviceUnavailableException">It did not load or bind; the message says what was tried.</exception>
    internal static NcclLibrary LoadFrom(string? configuredPath)
        => TryLoad(configuredPath, out var library, out var error) ? library : throw new DeviceUnavailableException(error);

    /// <summary>The files <see cref="TryLoad"/> tries for <paramref name="configuredPath"/>.</summary>
    internal static IReadOnlyList<string> Candidates(string? configuredPath)
        => string.IsNullOrWhiteSpace(configuredPath) ? DefaultNames : [configuredPath.Trim()];

    /// <summary>Loads and binds the library without caching it; never throws.</summary>
    /// <param name="configuredPath">The value of <see cref="LibraryVariable"/>: the only file tried when set; null or
    /// blank for <see cref="DefaultNames"/>.</param>
    /// <param name="library">The bound library, or null.</param>
    /// <param name="error">Why it failed, naming the files tried and <see cref="LibraryVariable"/>; or null.</param>
    internal static bool TryLoad(string? configuredPath, [NotNullWhen(true)] out NcclLibrary? library, [NotNullWhen(false)] out string? error)
    {
        library = null;
        var candidates = Candidates(configuredPath);
        bool configured = !string.IsNullOrWhiteSpace(configuredPath);
        var reasons = new List<string>();
        foreach (var name in candidates)
        {
            nint handle;
            try
            {
                handle = NativeLibrary.Load(name);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException or ArgumentException)
            {
                var reason = LastLine(e.Message);
                reasons.Add(reason.StartsWith(name, StringComparison.Ordinal) ? reason : $"{name}: {reason}");
                continue;
            }

            var missing = new List<string>();
            NcclLibrary bound;
            try
            {
                bound = new NcclLibrary(handle, name, missing);
            }
            catch (Exception e)
            {
                NativeLibrary.Free(handle);
                reasons.Add($"{name}: binding failed: {e.Message}");
                continue;
            }
            if (missing.Count > 0)
            {
                NativeLibrary.Free(handle);
                reasons.Add($"{name} loaded but lacks {string.Join(", ", missing)} (NCCL 2.7 or later is needed)");
                continue;
            }
            library = bound;
            error = null;
            return true;
        }

        error = configured
            ? $"NCCL could not be loaded from '{candidates[0]}', the file {LibraryVariable} names ({string.Join("; ", reasons)}). " +
              $"Set {LibraryVariable} to the path of libnccl.so.2 ({PipWheelHint}), or unset it to search " +
              $"{string.Join(" and ", DefaultNames)} on the library path."
            : $"NCCL could not be loaded: tried {string.Join(" and ", candidates)} on the library path ({string.Join("; ", reasons)}). " +
              $"Install NCCL, or set {LibraryVariable} to the path of libnccl.so.2 ({PipWheelHint}).";
        return false;
    }

    /// <summary>The last non-empty line of a loader message (the runtime's text ends with dlopen's reason).</summary>
    private static string LastLine(string message)
    {
        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? message : lines[^1];
    }

    /// <summary>Throws <see cref="NcclException"/> when <paramref name="result"/> is not success.</summary>
    /// <param name="result">The call's result.</param>
    /// <param name="call">The NCCL function, for the message.</param>
    /// <param name="comm">The communicator involved, or 0 (ncclGetLastError ignores it today).</param>
    public void Check(NcclResult result, string call, nint comm = 0)
    {
        if (result != NcclResult.Success)
            throw new NcclException(result, call, GetErrorString(result), GetLastError(comm));
    }

    /// <summary>ncclGetErrorString, or null.</summary>
    public string? GetErrorString(NcclResult result)
    {
        var text = _getErrorString(result);
        return text == null ? null : Marshal.PtrToStringUTF8((nint)text);
    }

    /// <summary>ncclGetLastError (NCCL ≥ 2.13), or null.</summary>
    public string? GetLastError(nint comm)
    {
        if (_getLastError == null) return null;
        var text = _getLastError(comm);
        return text == null ? null : Marshal.PtrToStringUTF8((nint)text);
    }

#pragma warning disable CS1591 // thin one-to-one wrappers of the NCCL functions of the same name
    public NcclResult ncclGetUniqueId(NcclUniqueIdNative* id) => _getUniqueId(id);
    public NcclResult ncclCommInitRank(nint* comm, int nranks, NcclUniqueIdNative id, int rank) => _commInitRank(comm, nranks, id, rank);
    public NcclResult ncclCommInitAll(nint* comms, int ndev, int* devlist) => _commInitAll(comms, ndev, devlist);
    public NcclResult ncclCommDestroy(nint comm) => _commDestroy(comm);
    public NcclResult ncclCommAbort(nint comm) => _commAbort(comm);
    public NcclResult ncclGroupStart() => _groupStart();
    public NcclResult ncclGroupEnd() => _groupEnd();
    public NcclResult ncclSend(void* buffer, nuint count, NcclDataType type, int peer, nint comm, nint stream)
        => _send(buffer, count, type, peer, comm, stream);
    public NcclResult ncclRecv(void* buffer, nuint count, NcclDataType type, int peer, nint comm, nint stream)
        => _recv(buffer, count, type, peer, comm, stream);
    public NcclResult ncclAllGather(void* send, void* receive, nuint sendCount, NcclDataType type, nint comm, nint stream)
        => _allGather(send, receive, sendCount, type, comm, stream);
#pragma warning restore CS1591
}
