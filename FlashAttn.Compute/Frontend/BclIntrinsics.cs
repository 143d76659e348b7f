using System.Reflection;
using System.Runtime.CompilerServices;
using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Frontend;

/// <summary>
/// Known BCL methods and what they become: <c>MathF</c>/<c>Math</c> functions → math intrinsics,
/// <c>float/double/Half.IsNaN/IsInfinity/IsFinite</c> → test intrinsics, 32- and 64-bit <c>BitOperations</c> bit counts →
/// <c>TrailingZeroCount</c>/<c>LeadingZeroCount</c>/<c>PopCount</c>, <c>BitConverter</c> bit casts →
/// <c>BitCast</c>, <c>Half</c> operators → f16 IR arithmetic and comparisons, <c>Half</c> conversions →
/// <c>FloatToHalf</c>/<c>HalfToFloat</c> (other types go through float), <c>Unsafe.SizeOf/Add/As/AsRef</c>
/// → constants and pointer arithmetic. <see cref="Instruction.Method"/> is the BCL method (its managed
/// body is the CPU meaning).
/// </summary>
internal static class BclIntrinsics
{
    private static readonly Dictionary<string, IntrinsicOp> s_math = new()
    {
        ["Exp"] = IntrinsicOp.Exp, ["Log"] = IntrinsicOp.Log, ["Log2"] = IntrinsicOp.Log2, ["Sqrt"] = IntrinsicOp.Sqrt,
        ["Abs"] = IntrinsicOp.Abs, ["Min"] = IntrinsicOp.Min, ["Max"] = IntrinsicOp.Max, ["FusedMultiplyAdd"] = IntrinsicOp.Fma,
        ["Floor"] = IntrinsicOp.Floor, ["Ceiling"] = IntrinsicOp.Ceiling, ["Round"] = IntrinsicOp.Round, ["Truncate"] = IntrinsicOp.Truncate,
        ["Tanh"] = IntrinsicOp.Tanh, ["Sin"] = IntrinsicOp.Sin, ["Cos"] = IntrinsicOp.Cos, ["Pow"] = IntrinsicOp.Pow,
        ["CopySign"] = IntrinsicOp.CopySign,
    };

    private static readonly Dictionary<string, IntrinsicOp> s_tests = new()
    {
        ["IsNaN"] = IntrinsicOp.IsNaN, ["IsInfinity"] = IntrinsicOp.IsInfinity, ["IsFinite"] = IntrinsicOp.IsFinite,
    };

    private static readonly Dictionary<string, IntrinsicOp> s_bitCounts = new()
    {
        ["TrailingZeroCount"] = IntrinsicOp.TrailingZeroCount, ["LeadingZeroCount"] = IntrinsicOp.LeadingZeroCount,
        ["PopCount"] = IntrinsicOp.PopCount,
    };

    private static readonly Dictionary<string, Opcode> s_halfArithmetic = new()
    {
        ["op_Addition"] = Opcode.Add, ["op_Subtraction"] = Opcode.Sub, ["op_Multiply"] = Opcode.Mul,
        ["op_Division"] = Opcode.Div, ["op_Modulus"] = Opcode.Rem,
    };

    private static readonly Dictionary<string, CompareKind> s_halfCompare = new()
    {
        ["op_Equality"] = CompareKind.Eq, ["op_Inequality"] = CompareKind.Ne, ["op_LessThan"] = CompareKind.Lt,
        ["op_LessThanOrEqual"] = CompareKind.Le, ["op_GreaterThan"] = CompareKind.Gt, ["op_GreaterThanOrEqual"] = CompareKind.Ge,
    };

    /// <summary>Emits <paramref name="method"/> if it is a known BCL method; false otherwise (nothing popped).</summary>
    public static bool TryEmit(MethodBuilder b, MethodBase method)
    {
        if (method is not MethodInfo m) return false;
        var owner = m.DeclaringType;
        var parameters = m.GetParameters().Select(p => p.ParameterType).ToArray();
        if (owner == typeof(MathF) || owner == typeof(Math))
            return EmitMath(b, m, parameters);
        if ((owner == typeof(float) || owner == typeof(double) || owner == typeof(Half)) && m.IsStatic
            && parameters.Length == 1 && s_tests.TryGetValue(m.Name, out var test))
        {
            var x = b.Pop().Value;
            var result = b.B.Intrinsic(test, IRType.Bool, x);
            result.Method = m;
            b.PushBool(result);
            return true;
        }
        if (owner == typeof(System.Numerics.BitOperations) && parameters.Length == 1 && s_bitCounts.TryGetValue(m.Name, out var count)
            && (parameters[0] == typeof(uint) || parameters[0] == typeof(int) || parameters[0] == typeof(ulong) || parameters[0] == typeof(long)))
        {
            var width = parameters[0] == typeof(ulong) || parameters[0] == typeof(long) ? IRType.Int64 : IRType.Int32;
            var bits = b.B.Intrinsic(count, IRType.Int32, b.ConvertTo(b.Pop().Value, width));
            bits.Method = m;
            b.Push(bits);
            return true;
        }
        if (owner == typeof(BitConverter)) return EmitBitConverter(b, m, parameters);
        if (owner == typeof(Half) && m.IsStatic) return EmitHalf(b, m, parameters);
        if (owner == typeof(Unsafe)) return EmitUnsafe(b, m);
        return false;
    }

    private static bool EmitMath(MethodBuilder b, MethodInfo m, Type[] parameters)
    {
        if (m.Name == "Clamp" && parameters.Length == 3 && IsSignedOrFloat(parameters[0]))
        {
            var hi = b.Pop().Value;
            var lo = b.Pop().Value;
            var x = b.Pop().Value;
            var type = TypeLayout.StackType(m.ReturnType)!;
            var max = b.B.Intrinsic(IntrinsicOp.Max, type, b.ConvertTo(x, type), b.ConvertTo(lo, type));
            max.Method = m;
            var min = b.B.Intrinsic(IntrinsicOp.Min, type, max, b.ConvertTo(hi, type));
            min.Method = m;
            b.Push(min);
            return true;
        }
        if (!s_math.TryGetValue(m.Name, out var op)) return false;
        if (op == IntrinsicOp.Round && parameters.Length != 1) return false;
        if (parameters.Any(p => TypeLayout.StackType(p) is null || p == typeof(decimal))) return false;
        if (op is IntrinsicOp.Min or IntrinsicOp.Max && !IsSignedOrFloat(parameters[0]))
        {
            // Unsigned min/max: an unsigned compare and a select.
            var y = b.Pop().Value;
            var x = b.Pop().Value;
            var less = b.B.Cmp(CompareKind.LtUn, x, b.ConvertTo(y, x.Type));
            b.Push(op == IntrinsicOp.Min ? b.B.Select(less, x, y) : b.B.Select(less, y, x));
            return true;
        }
        if (op is IntrinsicOp.Abs && !IsSignedOrFloat(parameters[0])) return false;
        var resultType = TypeLayout.StackType(m.ReturnType)!;
        var operands = new Value[parameters.Length];
        for (int k = parameters.Length - 1; k >= 0; k--)
            operands[k] = b.ConvertTo(b.Pop().Value, TypeLayout.StackType(parameters[k])!);
        var instruction = b.B.Intrinsic(op, resultType, operands);
        instruction.Method = m;
        b.Push(instruction);
        return true;
    }

    private static bool IsSignedOrFloat(Type t)
        => t == typeof(float) || t == typeof(double) || t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(sbyte) || t == typeof(nint);

    private static bool EmitBitConverter(MethodBuilder b, MethodInfo m, Type[] parameters)
    {
        if (parameters.Length != 1) return false;
        var from = parameters[0];
        var to = m.ReturnType;
        var fromType = TypeLayout.ScalarType(from);
        var toType = TypeLayout.ScalarType(to);
        if (fromType is null || toType is null || fromType.Size != toType.Size || fromType.IsPointer || toType.IsPointer) return false;
        if (fromType.IsFloat == toType.IsFloat) return false;
        var value = b.ConvertTo(b.Pop().Value, fromType); // narrows an Int32 stack value to Int16 for Int16BitsToHalf
        var cast = b.B.Intrinsic(IntrinsicOp.BitCast, toType, value);
        cast.Method = m;
        b.Push(toType.Kind == TypeKind.Int16 ? b.B.Convert(IRType.Int32, cast, TypeLayout.IsUnsigned(to)) : cast);
        return true;
    }

    private static bool EmitHalf(MethodBuilder b, MethodInfo m, Type[] parameters)
    {
        if (s_halfArithmetic.TryGetValue(m.Name, out var op) && parameters.Length == 2)
        {
            var y = b.Pop().Value;
            var x = b.Pop().Value;
            b.Push(b.B.Binary(op, x, y));
            return true;
        }
        if (s_halfCompare.TryGetValue(m.Name, out var kind) && parameters.Length == 2)
        {
            var y = b.Pop().Value;
            var x = b.Pop().Value;
            b.PushBool(b.B.Cmp(kind, x, y));
            return true;
        }
        if (m.Name == "op_UnaryNegation")
        {
            b.Push(b.B.Unary(Opcode.Neg, b.Pop().Value));
            return true;
        }
        if (m.Name == "op_UnaryPlus") return true;
        if (m.Name is "op_Explicit" or "op_Implicit" && parameters.Length == 1)
        {
            var from = parameters[0];
            var to = m.ReturnType;
            var value = b.Pop().Value;
            if (to == typeof(Half))
            {
                var asFloat = b.ConvertTo(value, IRType.Float32, TypeLayout.IsUnsigned(from));
                var half = b.B.Intrinsic(IntrinsicOp.FloatToHalf, IRType.Float16, asFloat);
                half.Method = m;
                b.Push(half);
                return true;
            }
            if (from == typeof(Half) && TypeLayout.StackType(to) is { IsPointer: false } target)
            {
                var single = b.B.Intrinsic(IntrinsicOp.HalfToFloat, IRType.Float32, value);
                single.Method = m;
                var converted = b.ConvertTo(single, TypeLayout.ScalarType(to)!, TypeLayout.IsUnsigned(to));
                if (converted.Type.Kind is TypeKind.Int8 or TypeKind.Int16)
                    converted = b.B.Convert(target, converted, TypeLayout.IsUnsigned(to));
                b.Push(converted);
                return true;
            }
        }
        return false;
    }

    private static bool EmitUnsafe(MethodBuilder b, MethodInfo m)
    {
        var generic = m.IsGenericMethod ? m.GetGenericArguments() : [];
        var parameters = m.GetParameters();
        switch (m.Name)
        {
            case "SizeOf" when generic.Length == 1:
                b.Push(Constant.I32(b.Layout(generic[0]).Size));
                return true;
            case "Add" when generic.Length == 1 && parameters.Length == 2 && parameters[0].ParameterType.IsByRef:
            {
                var index = b.ToInt64(b.Pop().Value, parameters[1].ParameterType == typeof(nuint));
                var pointer = b.Pop().Value;
                b.Push(b.B.PtrAdd(pointer, b.B.Mul(index, Constant.I64(b.Layout(generic[0]).Size))));
                return true;
            }
            case "AddByteOffset" when parameters.Length == 2 && parameters[0].ParameterType.IsByRef:
            {
                var offset = b.ToInt64(b.Pop().Value, parameters[1].ParameterType == typeof(nuint));
                var pointer = b.Pop().Value;
                b.Push(b.B.PtrAdd(pointer, offset));
                return true;
            }
            case "As" when generic.Length == 2:
            case "AsRef" when parameters.Length == 1:
            case "AsPointer" when parameters.Length == 1:
                b.Push(b.ConvertTo(b.Pop().Value, IRType.GenericPointer));
                return true;
        }
        return false;
    }
}
