using System.Linq.Expressions;
using System.Reflection;

namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// A kernel of the <see cref="CpuAccelerator"/>: every group thread calls the kernel method itself with the
/// launch's arguments (a <see cref="SpecializedValue{T}"/> is passed as it is; the managed code reads
/// <c>.Value</c>). The call goes through a delegate compiled once per kernel. Launches are synchronous.
/// </summary>
public sealed class CpuKernel : Kernel
{
    private readonly Action<object[]> _invoke;

    internal CpuKernel(CpuAccelerator accelerator, MethodInfo method) : base(accelerator, method)
        => _invoke = BuildInvoker(method);

    /// <inheritdoc/>
    protected override void LaunchCore(LaunchConfig config, object[] arguments)
    {
        var invoke = _invoke;
        CpuGroupExecutor.Launch(config, () => invoke(arguments), Method.Name);
    }

    // (object[] args) => Method((T0)args[0], (T1)args[1], ...): unboxing only, no reflection per call.
    private static Action<object[]> BuildInvoker(MethodInfo method)
    {
        var parameters = method.GetParameters();
        if (parameters.Any(p => p.ParameterType.IsPointer || p.ParameterType.IsByRef))
            return arguments => method.Invoke(null, arguments);
        var args = Expression.Parameter(typeof(object[]), "args");
        var call = Expression.Call(method, parameters.Select((p, i) =>
            (Expression)Expression.Convert(Expression.ArrayIndex(args, Expression.Constant(i)), p.ParameterType)));
        return Expression.Lambda<Action<object[]>>(call, args).Compile();
    }
}
