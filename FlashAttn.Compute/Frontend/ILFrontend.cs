using System.Globalization;
using System.Reflection;
using System.Text;
using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Frontend;

/// <summary>Turns a kernel method's IL into IR (see docs/engine.md, "Frontend").</summary>
public static class ILFrontend
{
    /// <summary>
    /// Builds the IR of <paramref name="kernel"/>. <paramref name="specializations"/> has one entry per
    /// kernel parameter: the <see cref="SpecializedValue{T}"/> to compile in, or null for a run-time parameter.
    /// </summary>
    /// <remarks>
    /// The result is unoptimized memory-form IR: the kernel <see cref="Function"/> (<see cref="Function.IsKernel"/>,
    /// a PTX-safe name) calls one helper <see cref="Function"/> per closed method it uses (reachable through
    /// <see cref="Instruction.Callee"/>). Each kernel parameter is flattened recursively into scalar IR
    /// parameters with a <see cref="KernelParameterSlot"/> each (an <c>ArrayView&lt;T&gt;</c> gives
    /// <c>_pointer</c> and <c>_length</c>); a specialized parameter has no IR parameter and its value is
    /// stored as constants into the parameter's alloca.
    /// </remarks>
    /// <exception cref="CompilationException">The kernel uses a construct outside the supported subset.</exception>
    /// <exception cref="ArgumentException">Wrong number or type of specializations.</exception>
    public static KernelEntry BuildKernel(MethodInfo kernel, IReadOnlyList<object?> specializations)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(specializations);
        var parameters = kernel.GetParameters();
        if (specializations.Count != parameters.Length)
            throw new ArgumentException($"{kernel.Name} has {parameters.Length} parameters but {specializations.Count} specializations were given.", nameof(specializations));
        if (!kernel.IsStatic) throw new CompilationException(kernel, -1, "a kernel must be a static method");
        if (kernel.ContainsGenericParameters) throw new CompilationException(kernel, -1, "a kernel must be a closed method (generic arguments bound)");
        if (kernel.ReturnType != typeof(void)) throw new CompilationException(kernel, -1, "a kernel must return void");

        var context = new CompilationContext();
        var function = new Function(context.UniqueName(KernelName(kernel, specializations)), IRType.Void) { IsKernel = true, Source = kernel };
        if (kernel.GetCustomAttribute<LaunchBoundsAttribute>() is { } bounds)
        {
            function.MaxThreadsPerGroup = bounds.MaxThreadsPerGroup;
            function.MinGroupsPerMultiprocessor = bounds.MinGroupsPerMultiprocessor;
        }
        context.Enter(kernel);
        var slots = MethodBuilder.BuildKernel(context, kernel, function, specializations);
        context.Leave(kernel);
        return new KernelEntry(kernel, function, slots);
    }

    /// <summary>
    /// The kernel's PTX entry name: <c>Type_Method</c>, then <c>_</c> and each generic argument's name,
    /// then <c>_s</c> and a hash of the specialization values when any; only [A-Za-z0-9_].
    /// </summary>
    public static string KernelName(MethodInfo kernel, IReadOnlyList<object?> specializations)
    {
        var name = new StringBuilder($"{kernel.DeclaringType?.Name}_{kernel.Name}");
        if (kernel.IsGenericMethod)
            foreach (var argument in kernel.GetGenericArguments()) name.Append('_').Append(argument.Name);
        if (specializations.Any(s => s is not null))
        {
            // FNV-1a over the values' invariant text: stable across runs and processes.
            uint hash = 2166136261;
            foreach (var value in specializations)
                foreach (char c in (value is null ? "-" : Convert.ToString(value, CultureInfo.InvariantCulture) + ":" + value.GetType().Name) + ";")
                    hash = (hash ^ c) * 16777619;
            name.Append("_s").Append(hash.ToString("x8", CultureInfo.InvariantCulture));
        }
        return CompilationContext.Sanitize(name.ToString());
    }
}
