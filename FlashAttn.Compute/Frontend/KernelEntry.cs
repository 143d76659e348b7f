using System.Reflection;
using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Frontend;

/// <summary>
/// A kernel method turned into IR: the entry <see cref="Function"/> (scalar parameters only) and, for
/// each of its parameters, where the host finds the value among the launch arguments.
/// </summary>
public sealed class KernelEntry(MethodInfo method, Function function, IReadOnlyList<KernelParameterSlot> slots)
{
    /// <summary>The kernel method.</summary>
    public MethodInfo Method { get; } = method;

    /// <summary>The IR (after <see cref="ILFrontend"/>, before or after optimization).</summary>
    public Function Function { get; } = function;

    /// <summary>One slot per <see cref="Function.Parameters"/> entry, in the same order.</summary>
    public IReadOnlyList<KernelParameterSlot> Slots { get; } = slots;
}

/// <summary>
/// Where one scalar kernel parameter comes from: launch argument <see cref="ArgumentIndex"/>, then the
/// chain of fields <see cref="FieldPath"/> (empty for a scalar argument) down to a primitive or pointer field.
/// Specialized arguments have no slot: their values are compiled in.
/// </summary>
/// <param name="ArgumentIndex">Index of the kernel method's parameter.</param>
/// <param name="FieldPath">Fields to walk from the argument to the scalar (struct flattening).</param>
/// <param name="Type">The scalar's IR type (pointers: 8 bytes).</param>
/// <param name="ByValueBytes">For an argument passed whole as a block of bytes (a <see cref="TensorMap"/>), the block's size on
/// the GPU; the IR parameter is then the block's address. 0 for a scalar.</param>
public sealed record KernelParameterSlot(int ArgumentIndex, IReadOnlyList<FieldInfo> FieldPath, IRType Type, int ByValueBytes = 0);
