using System.Reflection;

namespace FlashAttn.Compute.Frontend;

/// <summary>Turns a kernel method's IL into IR (see docs/engine.md, "Frontend").</summary>
public static class ILFrontend
{
    /// <summary>
    /// Builds the IR of <paramref name="kernel"/>. <paramref name="specializations"/> has one entry per
    /// kernel parameter: the <see cref="SpecializedValue{T}"/> to compile in, or null for a run-time parameter.
    /// </summary>
    /// <exception cref="CompilationException">The kernel uses a construct outside the supported subset.</exception>
    public static KernelEntry BuildKernel(MethodInfo kernel, IReadOnlyList<object?> specializations)
        => throw new NotImplementedException("IL frontend: in progress");
}
