using System.Reflection;
using FlashAttn.Compute.Backends.Ptx;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Tests.Compute.Cuda;

/// <summary>An <see cref="IKernelCompiler"/> that answers from a delegate and counts its calls.</summary>
internal sealed class FakeKernelCompiler(Func<MethodInfo, IReadOnlyList<object?>, PtxTarget, CompiledKernel> compile) : IKernelCompiler
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public List<(MethodInfo Method, object?[] Specializations, PtxTarget Target)> Requests { get; } = [];

    public CompiledKernel Compile(MethodInfo method, IReadOnlyList<object?> specializations, PtxTarget target)
    {
        Interlocked.Increment(ref _calls);
        lock (Requests) Requests.Add((method, specializations.ToArray(), target));
        return compile(method, specializations, target);
    }
}
