using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using FlashAttn.Compute.Frontend;
using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Runtime.Cuda;

/// <summary>
/// Packs launch arguments into a parameter buffer following a kernel's <see cref="KernelParameterSlot"/>s:
/// each slot's scalar is read from its argument through its field path and written at
/// <see cref="Offsets"/>[i]. The buffer then backs cuLaunchKernel's <c>kernelParams</c> (one pointer per slot).
/// </summary>
/// <remarks>
/// Layout: 8-byte scalars (i64, f64, pointers) take 8 bytes at 8-byte alignment; every smaller scalar takes
/// a 4-byte cell at 4-byte alignment, integers sign- or zero-extended as their C# type is, 16-bit floats
/// in the low two bytes with zeros above. The driver copies from each pointer as many bytes as the entry's
/// <c>.param</c> declares, so the kernel reads the right value whether the PTX declares a small parameter as
/// <c>.u8</c>/<c>.b16</c> or widened to 32 bits. The buffer must start zeroed and 8-byte aligned.
/// The fast path is one emitted method per kernel variant; a reflection path serves as reference and fallback.
/// </remarks>
internal sealed unsafe class KernelArgumentMarshaller
{
    private delegate void PackDelegate(object[] arguments, byte* buffer);

    private readonly (int Argument, FieldInfo[] Path, Type Leaf)[] _slots;
    private readonly int[] _offsets;
    private readonly int[] _sizes;
    private readonly PackDelegate? _pack;

    /// <summary>Plans the layout of <paramref name="slots"/> for arguments of <paramref name="method"/>.</summary>
    /// <exception cref="InvalidOperationException">A slot does not match the method's parameters.</exception>
    public KernelArgumentMarshaller(MethodInfo method, IReadOnlyList<KernelParameterSlot> slots, bool emit = true)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(slots);
        Method = method;
        var parameters = method.GetParameters();
        _slots = new (int, FieldInfo[], Type)[slots.Count];
        _offsets = new int[slots.Count];
        _sizes = new int[slots.Count];
        int offset = 0;
        for (int i = 0; i < slots.Count; i++)
        {
            var slot = slots[i];
            if (slot.ArgumentIndex < 0 || slot.ArgumentIndex >= parameters.Length)
                throw new InvalidOperationException($"Kernel {method.Name}: parameter slot {i} names argument {slot.ArgumentIndex}, but the method has {parameters.Length}.");
            var path = slot.FieldPath.ToArray();
            var type = parameters[slot.ArgumentIndex].ParameterType;
            if (slot.ByValueBytes > 0)
            {
                // a tensor map: the driver's 128 bytes, encoded at each launch
                if (type != typeof(TensorMap) || path.Length != 0 || slot.ByValueBytes != TensorMap.DeviceBytes)
                    throw new InvalidOperationException($"Kernel {method.Name}: parameter slot {i} passes {slot.ByValueBytes} bytes of a {type.Name}; only a TensorMap parameter is passed by value.");
                offset = (offset + 63) / 64 * 64;
                _slots[i] = (slot.ArgumentIndex, path, type);
                _offsets[i] = offset;
                _sizes[i] = slot.ByValueBytes;
                offset += slot.ByValueBytes;
                continue;
            }
            foreach (var field in path)
            {
                if (field.DeclaringType != type || field.IsStatic)
                    throw new InvalidOperationException($"Kernel {method.Name}: parameter slot {i} walks field {field.DeclaringType?.Name}.{field.Name} on {type.Name}.");
                type = field.FieldType;
            }
            var leaf = type.IsEnum ? Enum.GetUnderlyingType(type) : type;
            int clrSize = ClrSize(leaf);
            if (clrSize != slot.Type.Size && !(slot.Type.Kind == TypeKind.Bool && clrSize == 1))
                throw new InvalidOperationException(
                    $"Kernel {method.Name}: parameter slot {i} is {slot.Type} ({slot.Type.Size} bytes) but its C# value {type.Name} has {clrSize}.");
            int size = slot.Type.Size == 8 ? 8 : 4;
            offset = (offset + size - 1) / size * size;
            _slots[i] = (slot.ArgumentIndex, path, leaf);
            _offsets[i] = offset;
            _sizes[i] = size;
            offset += size;
        }
        BufferSize = (offset + 7) / 8 * 8;
        if (emit && RuntimeFeature.IsDynamicCodeSupported)
            _pack = Emit();
    }

    /// <summary>The kernel method.</summary>
    public MethodInfo Method { get; }

    /// <summary>Number of slots (entry parameters).</summary>
    public int SlotCount => _slots.Length;

    /// <summary>Byte offset of each slot's value in the buffer.</summary>
    public IReadOnlyList<int> Offsets => _offsets;

    /// <summary>Bytes reserved for each slot (4 or 8; a tensor map's 128).</summary>
    public IReadOnlyList<int> Sizes => _sizes;

    /// <summary>Bytes the buffer needs (a multiple of 8).</summary>
    public int BufferSize { get; }

    /// <summary>True when packing runs through an emitted method rather than reflection.</summary>
    public bool IsCompiled => _pack is not null;

    /// <summary>Writes every slot's value into <paramref name="buffer"/> (zeroed, at least <see cref="BufferSize"/> bytes).</summary>
    public void Pack(object[] arguments, Span<byte> buffer)
    {
        if (buffer.Length < BufferSize) throw new ArgumentException($"The buffer needs {BufferSize} bytes.", nameof(buffer));
        fixed (byte* pointer = buffer) Pack(arguments, pointer);
    }

    /// <summary>Writes every slot's value at <paramref name="buffer"/> (zeroed, 8-byte aligned, <see cref="BufferSize"/> bytes).</summary>
    public void Pack(object[] arguments, byte* buffer)
    {
        if (_pack is not null) _pack(arguments, buffer);
        else PackWithReflection(arguments, buffer);
    }

    /// <summary>Fills <paramref name="pointers"/> (one per slot) with the addresses of the slots' values in <paramref name="buffer"/>.</summary>
    public void GetParameterPointers(byte* buffer, Span<nint> pointers)
    {
        for (int i = 0; i < _offsets.Length; i++) pointers[i] = (nint)(buffer + _offsets[i]);
    }

    /// <summary>The reference path: <see cref="FieldInfo.GetValue"/> down each field path.</summary>
    public void PackWithReflection(object[] arguments, Span<byte> buffer)
    {
        if (buffer.Length < BufferSize) throw new ArgumentException($"The buffer needs {BufferSize} bytes.", nameof(buffer));
        fixed (byte* pointer = buffer) PackWithReflection(arguments, pointer);
    }

    private void PackWithReflection(object[] arguments, byte* buffer)
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            var (argument, path, _) = _slots[i];
            object? value = arguments[argument];
            foreach (var field in path) value = field.GetValue(value);
            byte* cell = buffer + _offsets[i];
            if (value is TensorMap map)
            {
                CudaTensorMaps.Encode(cell, in map, Method.Name);
                continue;
            }
            if (value is Enum) value = Convert.ChangeType(value, Enum.GetUnderlyingType(value.GetType()), null);
            switch (value)
            {
                case bool v: *(int*)cell = v ? 1 : 0; break;
                case sbyte v: *(int*)cell = v; break;
                case byte v: *(int*)cell = v; break;
                case short v: *(int*)cell = v; break;
                case ushort v: *(int*)cell = v; break;
                case char v: *(int*)cell = v; break;
                case int v: *(int*)cell = v; break;
                case uint v: *(uint*)cell = v; break;
                case long v: *(long*)cell = v; break;
                case ulong v: *(ulong*)cell = v; break;
                case float v: *(float*)cell = v; break;
                case double v: *(double*)cell = v; break;
                case Half v: *(Half*)cell = v; break;
                case BFloat16 v: *(ushort*)cell = v.RawValue; break;
                case nint v: *(long*)cell = v; break;
                case nuint v: *(ulong*)cell = v; break;
                case Pointer v: *(ulong*)cell = (ulong)Pointer.Unbox(v); break;
                default:
                    throw new InvalidOperationException($"Kernel {Method.Name}: cannot marshal a {value?.GetType().Name ?? "null"} into parameter slot {i}.");
            }
        }
    }

    private PackDelegate Emit()
    {
        var dynamicMethod = new DynamicMethod($"PackArguments_{Method.Name}", typeof(void), [typeof(object[]), typeof(byte*)],
            typeof(KernelArgumentMarshaller).Module, skipVisibility: true);
        var il = dynamicMethod.GetILGenerator();
        var parameters = Method.GetParameters();
        for (int i = 0; i < _slots.Length; i++)
        {
            var (argument, path, leaf) = _slots[i];
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldc_I4, _offsets[i]);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldc_I4, argument);
            il.Emit(OpCodes.Ldelem_Ref);
            var parameterType = parameters[argument].ParameterType;
            if (parameterType == typeof(TensorMap))
            {
                il.Emit(OpCodes.Unbox, parameterType);
                il.Emit(OpCodes.Ldstr, Method.Name);
                il.Emit(OpCodes.Call, typeof(CudaTensorMaps).GetMethod(nameof(CudaTensorMaps.Encode))!);
                continue;
            }
            if (path.Length == 0)
            {
                il.Emit(OpCodes.Unbox_Any, parameterType);
            }
            else
            {
                il.Emit(OpCodes.Unbox, parameterType);
                for (int f = 0; f < path.Length - 1; f++) il.Emit(OpCodes.Ldflda, path[f]);
                il.Emit(OpCodes.Ldfld, path[^1]);
            }
            EmitStore(il, leaf);
        }
        il.Emit(OpCodes.Ret);
        return dynamicMethod.CreateDelegate<PackDelegate>();
    }

    private static void EmitStore(ILGenerator il, Type leaf)
    {
        if (leaf.IsPointer || leaf == typeof(nint) || leaf == typeof(nuint))
        {
            il.Emit(OpCodes.Conv_U8);
            il.Emit(OpCodes.Stind_I8);
        }
        else if (leaf == typeof(bool) || leaf == typeof(sbyte) || leaf == typeof(byte) || leaf == typeof(short) ||
                 leaf == typeof(ushort) || leaf == typeof(char) || leaf == typeof(int) || leaf == typeof(uint))
            il.Emit(OpCodes.Stind_I4); // the load already sign- or zero-extended to 32 bits
        else if (leaf == typeof(long) || leaf == typeof(ulong))
            il.Emit(OpCodes.Stind_I8);
        else if (leaf == typeof(float))
            il.Emit(OpCodes.Stind_R4);
        else if (leaf == typeof(double))
            il.Emit(OpCodes.Stind_R8);
        else
            il.Emit(OpCodes.Stobj, leaf); // Half, BFloat16: raw bits in the cell's low bytes
    }

    private static int ClrSize(Type type)
    {
        if (type.IsPointer || type == typeof(nint) || type == typeof(nuint)) return 8;
        if (!type.IsValueType) throw new InvalidOperationException($"{type.Name} is not a value type and cannot be a kernel parameter.");
        return (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;
    }
}
