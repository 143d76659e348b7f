using System.Reflection;
using System.Reflection.Emit;

namespace FlashAttn.Compute.Frontend;

/// <summary>
/// One decoded IL instruction. Short forms are normalized: <c>ldarg.0</c>, <c>ldarg.s 5</c> become
/// <c>ldarg</c> with an int operand, <c>ldc.i4.m1</c>/<c>ldc.i4.s</c> become <c>ldc.i4</c>, <c>br.s</c>
/// becomes <c>br</c>. Branch operands are absolute target offsets (switch: an int array of them); metadata
/// tokens are resolved in the method's generic context.
/// </summary>
internal sealed record ILInstruction(int Offset, int Next, string Name, OpCode OpCode, object? Operand)
{
    /// <summary>The operand as an int.</summary>
    public int Int => (int)Operand!;

    /// <inheritdoc/>
    public override string ToString() => $"IL_{Offset:x4}: {Name} {Operand}";
}

/// <summary>Decodes a method's IL bytes (through reflection) into <see cref="ILInstruction"/>s.</summary>
internal static class ILReader
{
    private static readonly OpCode?[] s_oneByte = new OpCode?[256];
    private static readonly OpCode?[] s_twoByte = new OpCode?[256];

    static ILReader()
    {
        foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            if (field.GetValue(null) is not OpCode op) continue;
            ushort value = (ushort)op.Value;
            if (op.Size == 1) s_oneByte[value] = op;
            else s_twoByte[value & 0xFF] = op;
        }
    }

    /// <summary>Decodes the IL of <paramref name="method"/>.</summary>
    /// <exception cref="CompilationException">The method has no IL body or contains an unknown opcode.</exception>
    public static List<ILInstruction> Read(MethodBase method)
    {
        var body = method.GetMethodBody();
        byte[]? il = body?.GetILAsByteArray();
        if (body is null || il is null)
            throw new CompilationException(method, -1, "method has no IL body (abstract, extern or runtime-implemented)");
        var module = method.Module;
        Type[]? typeArgs = method.DeclaringType is { IsGenericType: true } dt ? dt.GetGenericArguments() : null;
        Type[]? methodArgs = method is MethodInfo { IsGenericMethod: true } mi ? mi.GetGenericArguments() : null;

        var result = new List<ILInstruction>();
        int pos = 0;
        while (pos < il.Length)
        {
            int offset = pos;
            OpCode? decoded = il[pos] == 0xFE && pos + 1 < il.Length ? s_twoByte[il[pos + 1]] : s_oneByte[il[pos]];
            if (decoded is not OpCode op)
                throw new CompilationException(method, offset, $"unknown IL opcode 0x{il[pos]:x2}");
            pos += op.Size;
            object? operand = null;
            int token;
            try
            {
                switch (op.OperandType)
                {
                    case OperandType.InlineNone: break;
                    case OperandType.ShortInlineBrTarget: operand = pos + 1 + (sbyte)il[pos]; pos += 1; break;
                    case OperandType.InlineBrTarget: operand = pos + 4 + BitConverter.ToInt32(il, pos); pos += 4; break;
                    case OperandType.ShortInlineI:
                        operand = op == OpCodes.Ldc_I4_S ? (sbyte)il[pos] : il[pos];
                        operand = Convert.ToInt32(operand);
                        pos += 1;
                        break;
                    case OperandType.ShortInlineVar: operand = (int)il[pos]; pos += 1; break;
                    case OperandType.InlineVar: operand = (int)BitConverter.ToUInt16(il, pos); pos += 2; break;
                    case OperandType.InlineI: operand = BitConverter.ToInt32(il, pos); pos += 4; break;
                    case OperandType.InlineI8: operand = BitConverter.ToInt64(il, pos); pos += 8; break;
                    case OperandType.ShortInlineR: operand = BitConverter.ToSingle(il, pos); pos += 4; break;
                    case OperandType.InlineR: operand = BitConverter.ToDouble(il, pos); pos += 8; break;
                    case OperandType.InlineSwitch:
                    {
                        int count = BitConverter.ToInt32(il, pos);
                        pos += 4;
                        int end = pos + 4 * count;
                        var targets = new int[count];
                        for (int k = 0; k < count; k++) targets[k] = end + BitConverter.ToInt32(il, pos + 4 * k);
                        operand = targets;
                        pos = end;
                        break;
                    }
                    case OperandType.InlineMethod:
                        token = BitConverter.ToInt32(il, pos); pos += 4;
                        operand = module.ResolveMethod(token, typeArgs, methodArgs);
                        break;
                    case OperandType.InlineField:
                        token = BitConverter.ToInt32(il, pos); pos += 4;
                        operand = module.ResolveField(token, typeArgs, methodArgs);
                        break;
                    case OperandType.InlineType:
                        token = BitConverter.ToInt32(il, pos); pos += 4;
                        operand = module.ResolveType(token, typeArgs, methodArgs);
                        break;
                    case OperandType.InlineTok:
                        token = BitConverter.ToInt32(il, pos); pos += 4;
                        operand = module.ResolveMember(token, typeArgs, methodArgs);
                        break;
                    case OperandType.InlineString:
                        token = BitConverter.ToInt32(il, pos); pos += 4;
                        operand = module.ResolveString(token);
                        break;
                    case OperandType.InlineSig:
                        token = BitConverter.ToInt32(il, pos); pos += 4;
                        operand = module.ResolveSignature(token);
                        break;
                    default:
                        throw new CompilationException(method, offset, $"unsupported IL operand type {op.OperandType}");
                }
            }
            catch (Exception e) when (e is not CompilationException)
            {
                throw new CompilationException(method, offset, $"cannot resolve the operand of {op.Name}: {e.Message}", e);
            }
            var (name, normalized) = Normalize(op.Name!, operand);
            result.Add(new ILInstruction(offset, pos, name, op, normalized));
        }
        return result;
    }

    private static (string Name, object? Operand) Normalize(string name, object? operand)
    {
        if (name.EndsWith(".s", StringComparison.Ordinal)) name = name[..^2];
        if (name == "ldc.i4.m1") return ("ldc.i4", -1);
        foreach (string prefix in (ReadOnlySpan<string>)["ldarg.", "ldloc.", "stloc.", "ldc.i4."])
            if (name.StartsWith(prefix, StringComparison.Ordinal) && name.Length == prefix.Length + 1 && char.IsDigit(name[^1]))
                return (prefix[..^1], name[^1] - '0');
        return (name, operand);
    }
}
