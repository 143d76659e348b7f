using System.Reflection;
using FlashAttn.Compute.Backends.Ptx;

namespace FlashAttn.Compute.Runtime;

/// <summary>
/// Turns a kernel method into PTX. The runtime calls it on a kernel cache miss; implementations must be
/// thread-safe (launches of different kernels may compile concurrently).
/// </summary>
public interface IKernelCompiler
{
    /// <summary>Compiles <paramref name="method"/> for <paramref name="target"/>.</summary>
    /// <param name="method">A closed static void kernel method.</param>
    /// <param name="specializations">
    /// One entry per method parameter: for a <see cref="SpecializedValue{T}"/> parameter the boxed
    /// <c>T</c> value to compile in, otherwise null.
    /// </param>
    /// <param name="target">The PTX ISA version and architecture to write.</param>
    CompiledKernel Compile(MethodInfo method, IReadOnlyList<object?> specializations, PtxTarget target);
}
