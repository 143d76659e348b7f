using System.Diagnostics;
using System.Reflection;
using FlashAttn.Compute.Backends.Ptx;
using FlashAttn.Compute.Frontend;
using FlashAttn.Compute.IR.Transformations;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Compute;

/// <summary>
/// The whole compilation pipeline: IL → IR (<see cref="ILFrontend"/>) → optimized IR (<see cref="Optimizer"/>)
/// → PTX (<see cref="PtxBackend"/>).
/// </summary>
public sealed class KernelCompiler : IKernelCompiler
{
    /// <summary>The shared instance (the compiler keeps no state between compilations).</summary>
    public static KernelCompiler Instance { get; } = new();

    /// <summary>Options for the optimizer (IR verification after each pass, dumps).</summary>
    public OptimizerOptions? OptimizerOptions { get; init; }

    /// <summary>The kernel's optimized IR, before code generation (the IR interpreter runs this).</summary>
    /// <exception cref="CompilationException">The kernel uses something outside the supported subset.</exception>
    public KernelEntry BuildOptimizedIR(MethodInfo kernel, IReadOnlyList<object?> specializations)
    {
        var entry = ILFrontend.BuildKernel(kernel, specializations);
        Optimizer.Run(entry.Function, OptimizerOptions);
        return entry;
    }

    /// <inheritdoc/>
    public CompiledKernel Compile(MethodInfo method, IReadOnlyList<object?> specializations, PtxTarget target)
    {
        var watch = Stopwatch.StartNew();
        var entry = BuildOptimizedIR(method, specializations);
        var module = PtxBackend.Emit(entry.Function, target);
        Trace.WriteLine($"FlashAttn: compiled {method.Name} to PTX in {watch.Elapsed.TotalMilliseconds:F1} ms");
        return new CompiledKernel(module.EntryName, module.Text, entry.Slots, module.StaticSharedBytes);
    }

    /// <summary>
    /// One entry per kernel parameter: the argument itself when it is a <see cref="SpecializedValue{T}"/>
    /// (its value is compiled in), else null.
    /// </summary>
    public static object?[] SpecializationsOf(MethodInfo kernel, object[] arguments)
    {
        var parameters = kernel.GetParameters();
        var result = new object?[parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
        {
            var type = parameters[i].ParameterType;
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(SpecializedValue<>))
                result[i] = arguments[i];
        }
        return result;
    }
}
