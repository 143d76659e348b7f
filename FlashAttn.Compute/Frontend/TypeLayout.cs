using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Frontend;

/// <summary>One scalar leaf of a flattened type: its byte offset, IR type in memory and the field chain to it.</summary>
/// <param name="Offset">Byte offset from the start of the outermost struct.</param>
/// <param name="Type">IR type in memory (bool is Int8).</param>
/// <param name="Path">Fields walked from the outermost struct (empty for a scalar type).</param>
/// <param name="ClrType">The .NET type of the leaf.</param>
public sealed record LayoutLeaf(int Offset, IRType Type, IReadOnlyList<FieldInfo> Path, Type ClrType);

/// <summary>
/// Memory layout of a .NET type as the compiler sees it: sequential, natural alignment (explicit
/// layouts honour <see cref="FieldOffsetAttribute"/>), checked against <see cref="Unsafe.SizeOf{T}"/>.
/// Scalars (primitives, enums, pointers, byrefs, <see cref="Half"/>, <see cref="BFloat16"/>) have one
/// leaf with an empty path.
/// </summary>
public sealed class TypeLayout
{
    private static readonly ConcurrentDictionary<Type, TypeLayout> s_cache = new();

    private TypeLayout(Type type, int size, int alignment, IReadOnlyList<LayoutLeaf> leaves, IReadOnlyList<(FieldInfo Field, int Offset)> fields)
    {
        Type = type;
        Size = size;
        Alignment = alignment;
        Leaves = leaves;
        Fields = fields;
    }

    /// <summary>The .NET type.</summary>
    public Type Type { get; }

    /// <summary>Size in bytes.</summary>
    public int Size { get; }

    /// <summary>Alignment in bytes (size-aligned for <c>[VectorType]</c> structs).</summary>
    public int Alignment { get; }

    /// <summary>Every scalar leaf, recursively through nested structs, in offset order.</summary>
    public IReadOnlyList<LayoutLeaf> Leaves { get; }

    /// <summary>The direct instance fields with their offsets (empty for scalars).</summary>
    public IReadOnlyList<(FieldInfo Field, int Offset)> Fields { get; }

    /// <summary>True for a type the IR holds in one scalar value.</summary>
    public bool IsScalar => ScalarType(Type) is not null;

    /// <summary>Offset of the direct field <paramref name="field"/>.</summary>
    public int OffsetOf(FieldInfo field)
    {
        foreach (var (f, offset) in Fields)
            if (f == field || (f.MetadataToken == field.MetadataToken && f.Module == field.Module)) return offset;
        throw new CompilationException($"field {field.Name} is not an instance field of {Type}");
    }

    /// <summary>
    /// The IR type a value of <paramref name="type"/> has in memory, or null for structs (and anything
    /// that is not a scalar). bool is Int8, char Int16, native ints Int64, pointers and byrefs generic pointers.
    /// </summary>
    public static IRType? ScalarType(Type type)
    {
        if (type.IsByRef || type.IsPointer || type.IsFunctionPointer) return IRType.GenericPointer;
        if (type.IsEnum) type = Enum.GetUnderlyingType(type);
        if (type == typeof(Half)) return IRType.Float16;
        if (type == typeof(BFloat16)) return IRType.BFloat16;
        return Type.GetTypeCode(type) switch
        {
            TypeCode.Boolean or TypeCode.SByte or TypeCode.Byte => IRType.Int8,
            TypeCode.Char or TypeCode.Int16 or TypeCode.UInt16 => IRType.Int16,
            TypeCode.Int32 or TypeCode.UInt32 => IRType.Int32,
            TypeCode.Int64 or TypeCode.UInt64 => IRType.Int64,
            TypeCode.Single => IRType.Float32,
            TypeCode.Double => IRType.Float64,
            _ when type == typeof(IntPtr) || type == typeof(UIntPtr) => IRType.Int64,
            _ => null,
        };
    }

    /// <summary>The IR type of a scalar on the IL evaluation stack: 8/16-bit integers and bool widen to Int32.</summary>
    public static IRType? StackType(Type type)
    {
        var scalar = ScalarType(type);
        return scalar is { Kind: TypeKind.Int8 or TypeKind.Int16 } ? IRType.Int32 : scalar;
    }

    /// <summary>True when widening a small integer of <paramref name="type"/> zero-extends (bool, byte, char, ushort, uint, ulong, nuint).</summary>
    public static bool IsUnsigned(Type type)
    {
        if (type.IsEnum) type = Enum.GetUnderlyingType(type);
        return Type.GetTypeCode(type) is TypeCode.Boolean or TypeCode.Byte or TypeCode.Char or TypeCode.UInt16
            or TypeCode.UInt32 or TypeCode.UInt64 || type == typeof(UIntPtr);
    }

    /// <summary>True for a value type that the IR keeps in memory (not a scalar).</summary>
    public static bool IsStruct(Type type) => type.IsValueType && !type.IsByRef && ScalarType(type) is null;

    /// <summary>The layout of <paramref name="type"/> (cached).</summary>
    /// <exception cref="CompilationException">A reference type, or a field of one.</exception>
    public static TypeLayout Of(Type type) => s_cache.GetOrAdd(type, Compute);

    private static TypeLayout Compute(Type type)
    {
        if (ScalarType(type) is { } scalar)
        {
            int size = type.IsByRef || type.IsPointer ? 8 : scalar.Size;
            return new TypeLayout(type, size, size, [new LayoutLeaf(0, scalar, [], type)], []);
        }
        if (!type.IsValueType || type.ContainsGenericParameters)
            throw new CompilationException($"type {type} is not an unmanaged value type (objects are not supported in kernels)");

        var fields = type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .OrderBy(f => f.MetadataToken).ToArray();
        var attribute = type.StructLayoutAttribute;
        bool explicitLayout = attribute?.Value == LayoutKind.Explicit;
        int pack = attribute?.Pack is > 0 and var p ? p : int.MaxValue;
        int offset = 0, alignment = 1, end = 0;
        var leaves = new List<LayoutLeaf>();
        var direct = new List<(FieldInfo, int)>();
        foreach (var field in fields)
        {
            if (!field.FieldType.IsValueType && !field.FieldType.IsPointer)
                throw new CompilationException($"field {type.Name}.{field.Name} has reference type {field.FieldType} (objects are not supported in kernels)");
            var inner = field.GetCustomAttribute<FixedBufferAttribute>() is { } buffer
                ? FixedBuffer(field.FieldType, buffer.ElementType, buffer.Length)
                : Of(field.FieldType);
            int fieldAlign = Math.Min(inner.Alignment, pack);
            if (explicitLayout)
                offset = field.GetCustomAttribute<FieldOffsetAttribute>()?.Value ?? 0;
            else
                offset = AlignUp(offset, fieldAlign);
            alignment = Math.Max(alignment, fieldAlign);
            direct.Add((field, offset));
            foreach (var leaf in inner.Leaves)
                leaves.Add(new LayoutLeaf(offset + leaf.Offset, leaf.Type, [field, .. leaf.Path], leaf.ClrType));
            offset += inner.Size;
            end = Math.Max(end, offset);
        }
        int total = Math.Max(1, AlignUp(end, alignment));
        if (attribute is { Size: > 0 } && attribute.Size > total) total = AlignUp(attribute.Size, alignment);
        if (type.GetCustomAttributes(false).Any(a => a.GetType().Name == "VectorTypeAttribute"))
            alignment = total;
        // a local function's captured variables (the C# compiler's display struct, passed by reference) are laid out in an
        // order of .NET's choosing (LayoutKind.Auto); they live only inside the kernel, so this layout serves as well
        bool closure = attribute?.Value == LayoutKind.Auto && type.IsDefined(typeof(CompilerGeneratedAttribute), false);
        int? dotnetSize = closure ? null : DotNetSize(type);
        if (dotnetSize is int actual && actual != total)
            throw new CompilationException($"layout of {type} computed as {total} bytes but .NET uses {actual} (unsupported layout)");
        leaves.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        return new TypeLayout(type, total, alignment, leaves, direct);
    }

    /// <summary>A fixed-size buffer (<c>fixed float _e[32]</c>, the compiler's one-field struct <paramref name="bufferType"/>):
    /// <paramref name="length"/> leaves of <paramref name="elementType"/>, so that a register array such as
    /// <see cref="Floats32"/> is a struct of that many scalars.</summary>
    private static TypeLayout FixedBuffer(Type bufferType, Type elementType, int length)
    {
        var element = Of(elementType);
        var field = bufferType.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).Single();
        var leaves = new List<LayoutLeaf>();
        for (int index = 0; index < length; index++)
            leaves.Add(new LayoutLeaf(index * element.Size, element.Leaves[0].Type, [field], elementType));
        return new TypeLayout(bufferType, element.Size * length, element.Alignment, leaves, [(field, 0)]);
    }

    private static int? DotNetSize(Type type)
    {
        try
        {
            return (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;
        }
        catch (Exception)
        {
            return null;
        }
    }

    private static int AlignUp(int value, int alignment) => (value + alignment - 1) / alignment * alignment;
}
