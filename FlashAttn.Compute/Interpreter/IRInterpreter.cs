using System.Runtime.InteropServices;
using FlashAttn.Compute.Frontend;
using FlashAttn.Compute.IR;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Compute.Interpreter;

/// <summary>
/// Executes a kernel's IR on the CPU with the CPU runtime's group threads (each thread interprets the
/// function), so the compiler can be checked end to end without a GPU. Pointers are raw native
/// addresses: pass CPU buffers' views. Launches are synchronous; a failing thread's exception, or barrier
/// misuse, is rethrown as by the CPU accelerator.
/// </summary>
public static unsafe class IRInterpreter
{
    /// <summary>
    /// Launches <paramref name="kernel"/> (an entry with scalar parameters) with one value per
    /// <see cref="Function.Parameters"/> entry: integers, floats, Half, BFloat16, bool, and pointers as
    /// long/nint or <see cref="System.Reflection.Pointer"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Wrong argument count or an argument that does not fit its parameter.</exception>
    /// <exception cref="InvalidOperationException">The IR uses an operation the interpreter does not know, or a barrier was misused.</exception>
    public static void Launch(Function kernel, LaunchConfig config, IReadOnlyList<object> scalarArguments)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(scalarArguments);
        if (!kernel.IsKernel)
            throw new ArgumentException($"{kernel.Name} is not a kernel entry (Function.IsKernel is false).", nameof(kernel));
        if (scalarArguments.Count != kernel.Parameters.Count)
            throw new ArgumentException($"Kernel {kernel.Name} takes {kernel.Parameters.Count} scalar arguments; {scalarArguments.Count} were given.", nameof(scalarArguments));
        var arguments = new long[scalarArguments.Count];
        var blocks = new List<nint>();
        try
        {
            for (int p = 0; p < arguments.Length; p++)
            {
                if (scalarArguments[p] is TensorMap map && kernel.Parameters[p].ByValueBytes > 0)
                {
                    // a by-value block's parameter is its address: the map's description, kept for the launch
                    var block = (nint)NativeMemory.AlignedAlloc((nuint)sizeof(TensorMap), 64);
                    blocks.Add(block);
                    *(TensorMap*)block = map;
                    arguments[p] = block;
                    continue;
                }
                arguments[p] = Encode(kernel, p, scalarArguments[p]);
            }
            var compiled = CompiledFunction.Compile(kernel);
            CpuGroupExecutor.Launch(config, () => compiled.Run(arguments, CpuContext.Current), kernel.Name);
        }
        finally
        {
            foreach (var block in blocks) NativeMemory.AlignedFree((void*)block);
        }
    }

    private static long Encode(Function kernel, int p, object argument)
    {
        try
        {
            return RegisterEncoding.Encode(kernel.Parameters[p].Type, argument);
        }
        catch (Exception e) when (e is ArgumentException or InvalidCastException or FormatException or OverflowException)
        {
            throw new ArgumentException($"Kernel {kernel.Name} argument {p} ({kernel.Parameters[p]}: {kernel.Parameters[p].Type}): {e.Message}", "scalarArguments", e);
        }
    }

    /// <summary>Launches <paramref name="entry"/> with the kernel method's own arguments, flattened through its slots.</summary>
    public static void Launch(KernelEntry entry, LaunchConfig config, params object[] arguments)
        => Launch(entry.Function, config, FlattenArguments(entry, arguments));

    /// <summary>
    /// The scalar arguments of <paramref name="entry"/>'s function: for each slot, the launch argument
    /// walked down its field path (pointer fields unboxed to addresses).
    /// </summary>
    public static unsafe object[] FlattenArguments(KernelEntry entry, IReadOnlyList<object> arguments)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(arguments);
        var result = new object[entry.Slots.Count];
        for (int k = 0; k < result.Length; k++)
        {
            var slot = entry.Slots[k];
            if (slot.ArgumentIndex < 0 || slot.ArgumentIndex >= arguments.Count)
                throw new ArgumentException($"Kernel {entry.Method.Name} needs argument {slot.ArgumentIndex}; {arguments.Count} were given.", nameof(arguments));
            object? value = arguments[slot.ArgumentIndex];
            foreach (var field in slot.FieldPath)
                value = field.GetValue(value ?? throw new ArgumentException($"Kernel {entry.Method.Name} argument {slot.ArgumentIndex} is null.", nameof(arguments)));
            result[k] = value switch
            {
                System.Reflection.Pointer pointer => (long)System.Reflection.Pointer.Unbox(pointer),
                null => throw new ArgumentException($"Kernel {entry.Method.Name} argument {slot.ArgumentIndex} is null.", nameof(arguments)),
                _ => value,
            };
        }
        return result;
    }
}
