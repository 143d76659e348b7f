using System.Reflection;

namespace FlashAttn.Compute.Runtime;

/// <summary>How a kernel is launched: the grid of groups, the threads per group and the dynamic shared memory.</summary>
/// <param name="Grid">Groups per grid.</param>
/// <param name="Group">Threads per group.</param>
/// <param name="DynamicSharedBytes">Bytes of dynamic shared memory per group (may exceed 48 KB on GPUs that allow it).</param>
public readonly record struct LaunchConfig(Dim3 Grid, Dim3 Group, int DynamicSharedBytes = 0);

/// <summary>A loaded kernel of one accelerator. Launches are checked before anything runs.</summary>
public abstract class Kernel
{
    /// <summary>Creates the kernel record.</summary>
    protected Kernel(Accelerator accelerator, MethodInfo method)
    {
        Accelerator = accelerator;
        Method = method;
    }

    /// <summary>The accelerator the kernel runs on.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The kernel method.</summary>
    public MethodInfo Method { get; }

    /// <summary>
    /// Launches the kernel. <paramref name="arguments"/> match the method's parameters one for one
    /// (views, scalars, structs, <see cref="SpecializedValue{T}"/>s).
    /// </summary>
    /// <exception cref="ArgumentException">Wrong argument count or type, or an invalid configuration.</exception>
    public void Launch(LaunchConfig config, params object[] arguments)
    {
        ObjectDisposedException.ThrowIf(Accelerator.IsDisposed, Accelerator);
        ValidateArguments(arguments);
        if (config.Grid.X < 1 || config.Grid.Y < 1 || config.Grid.Z < 1)
            throw new ArgumentException($"Grid {config.Grid} must be at least 1 in every dimension.", nameof(config));
        if (config.Group.X < 1 || config.Group.Y < 1 || config.Group.Z < 1 || config.Group.Size > Accelerator.Info.MaxGroupSize)
            throw new ArgumentException($"Group {config.Group} must be at least 1 in every dimension and at most {Accelerator.Info.MaxGroupSize} threads.", nameof(config));
        if (config.DynamicSharedBytes < 0 || config.DynamicSharedBytes > Accelerator.Info.MaxSharedMemoryPerGroup)
            throw new ArgumentException($"Dynamic shared memory {config.DynamicSharedBytes} bytes is outside [0, {Accelerator.Info.MaxSharedMemoryPerGroup}].", nameof(config));
        if (Method.GetCustomAttribute<LaunchBoundsAttribute>() is { } bounds && config.Group.Size > bounds.MaxThreadsPerGroup)
            throw new ArgumentException($"Group {config.Group} has more threads than kernel {Method.Name}'s launch bound of {bounds.MaxThreadsPerGroup}.", nameof(config));
        LaunchCore(config, arguments);
    }

    /// <summary>Launches with a one-dimensional grid and group.</summary>
    public void Launch(int groups, int threadsPerGroup, params object[] arguments)
        => Launch(new LaunchConfig(groups, threadsPerGroup), arguments);

    /// <summary>Device-specific launch (arguments already checked).</summary>
    protected abstract void LaunchCore(LaunchConfig config, object[] arguments);

    private void ValidateArguments(object[] arguments)
    {
        var parameters = Method.GetParameters();
        if (arguments.Length != parameters.Length)
            throw new ArgumentException($"Kernel {Method.Name} takes {parameters.Length} arguments; {arguments.Length} were given.", nameof(arguments));
        for (int i = 0; i < parameters.Length; i++)
        {
            if (arguments[i] is null || arguments[i].GetType() != parameters[i].ParameterType)
                throw new ArgumentException(
                    $"Kernel {Method.Name} argument {i} ('{parameters[i].Name}') must be {parameters[i].ParameterType.Name}, not {arguments[i]?.GetType().Name ?? "null"}.",
                    nameof(arguments));
        }
    }
}
