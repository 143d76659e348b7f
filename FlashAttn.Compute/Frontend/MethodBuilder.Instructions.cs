using System.Reflection;
using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Frontend;

/// <summary>The IL opcode emitters of <see cref="MethodBuilder"/>.</summary>
internal sealed partial class MethodBuilder
{
    /// <summary>Emits one instruction; true when it ended the block (branch, switch, return).</summary>
    private bool EmitInstruction(ILInstruction ins)
    {
        switch (ins.Name)
        {
            case "nop": case "volatile.": case "readonly.": case "unaligned.": case "tail.": case "no.":
                return false; // volatile is ignored; unaligned accesses keep natural alignment (documented gap)
            case "constrained.":
                _constrained = (Type)ins.Operand!;
                return false;

            // ---- arguments and locals
            case "ldarg": _stack.Add(LoadTyped(_argTypes[ins.Int], _argHomes[ins.Int])); return false;
            case "starg": StoreTyped(_argTypes[ins.Int], _argHomes[ins.Int], Pop()); return false;
            case "ldarga": Push(_argHomes[ins.Int]); return false;
            case "ldloc": _stack.Add(LoadTyped(_localTypes[ins.Int], _localHomes[ins.Int])); return false;
            case "stloc": StoreTyped(_localTypes[ins.Int], _localHomes[ins.Int], Pop()); return false;
            case "ldloca": Push(_localHomes[ins.Int]); return false;

            // ---- constants
            case "ldc.i4": Push(Constant.I32(ins.Int)); return false;
            case "ldc.i8": Push(Constant.I64((long)ins.Operand!)); return false;
            case "ldc.r4": Push(Constant.F32((float)ins.Operand!)); return false;
            case "ldc.r8": Push(Constant.FloatOf(IRType.Float64, (double)ins.Operand!)); return false;
            case "ldnull": throw Error("null (ldnull): object references are not supported in kernels");
            case "ldstr": throw Error("string literal (ldstr): strings are not supported in kernels");

            // ---- arithmetic
            case "add": Arithmetic(Opcode.Add); return false;
            case "sub": Arithmetic(Opcode.Sub); return false;
            case "mul": Arithmetic(Opcode.Mul); return false;
            case "div": Arithmetic(Opcode.Div); return false;
            case "div.un": Arithmetic(Opcode.DivUn); return false;
            case "rem": Arithmetic(Opcode.Rem); return false;
            case "rem.un": Arithmetic(Opcode.RemUn); return false;
            case "and": Arithmetic(Opcode.And); return false;
            case "or": Arithmetic(Opcode.Or); return false;
            case "xor": Arithmetic(Opcode.Xor); return false;
            case "shl": Shift(Opcode.Shl); return false;
            case "shr": Shift(Opcode.Shr); return false;
            case "shr.un": Shift(Opcode.ShrUn); return false;
            case "neg": Push(B.Unary(Opcode.Neg, Scalar(Pop()))); return false;
            case "not": Push(B.Unary(Opcode.Not, Scalar(Pop()))); return false;

            // ---- conversions
            case "conv.i1": ConvertSmall(IRType.Int8, false); return false;
            case "conv.u1": ConvertSmall(IRType.Int8, true); return false;
            case "conv.i2": ConvertSmall(IRType.Int16, false); return false;
            case "conv.u2": ConvertSmall(IRType.Int16, true); return false;
            case "conv.i4": ConvertInt(IRType.Int32, false, keepPointer: false); return false;
            case "conv.u4": ConvertInt(IRType.Int32, true, keepPointer: false); return false;
            case "conv.i8": ConvertInt(IRType.Int64, false, keepPointer: false); return false;
            case "conv.u8": ConvertInt(IRType.Int64, true, keepPointer: false); return false;
            case "conv.i": ConvertInt(IRType.Int64, false, keepPointer: true); return false;
            case "conv.u": ConvertInt(IRType.Int64, true, keepPointer: true); return false;
            case "conv.r4": Push(ConvertTo(Scalar(Pop()), IRType.Float32)); return false;
            case "conv.r8": Push(ConvertTo(Scalar(Pop()), IRType.Float64)); return false;
            case "conv.r.un":
            {
                var v = Scalar(Pop());
                Push(v.Type.IsFloat ? ConvertTo(v, IRType.Float64) : ConvertTo(v, IRType.Float64, unsigned: true));
                return false;
            }

            // ---- comparisons
            case "ceq": Compare(CompareKind.Eq); return false;
            case "cgt": Compare(CompareKind.Gt); return false;
            case "cgt.un": Compare(CompareKind.GtUn); return false;
            case "clt": Compare(CompareKind.Lt); return false;
            case "clt.un": Compare(CompareKind.LtUn); return false;

            // ---- branches
            case "br":
            {
                var target = GetBlock(ins.Int);
                FlowTo(target);
                B.Br(target.Block);
                return true;
            }
            case "brtrue": case "brfalse":
            {
                var entry = Scalar(Pop());
                var v = entry.Type.IsPointer ? ToInt64(entry) : entry;
                var kind = ins.Name == "brtrue" ? CompareKind.Ne : CompareKind.Eq;
                BranchOn(ins, v.Type.Kind == TypeKind.Bool && kind == CompareKind.Ne ? v : B.Cmp(kind, v, Zero(v.Type)));
                return true;
            }
            case "beq": BranchCompare(ins, CompareKind.Eq); return true;
            case "bne.un": BranchCompare(ins, CompareKind.Ne); return true;
            case "blt": BranchCompare(ins, CompareKind.Lt); return true;
            case "blt.un": BranchCompare(ins, CompareKind.LtUn); return true;
            case "ble": BranchCompare(ins, CompareKind.Le); return true;
            case "ble.un": BranchCompare(ins, CompareKind.LeUn); return true;
            case "bgt": BranchCompare(ins, CompareKind.Gt); return true;
            case "bgt.un": BranchCompare(ins, CompareKind.GtUn); return true;
            case "bge": BranchCompare(ins, CompareKind.Ge); return true;
            case "bge.un": BranchCompare(ins, CompareKind.GeUn); return true;
            case "switch": Switch(ins); return true;
            case "ret": Return(); return true;

            // ---- stack
            case "dup": _stack.Add(Peek()); return false;
            case "pop": Pop(); return false;

            // ---- indirect memory
            case "ldind.i1": LoadIndirect(typeof(sbyte)); return false;
            case "ldind.u1": LoadIndirect(typeof(byte)); return false;
            case "ldind.i2": LoadIndirect(typeof(short)); return false;
            case "ldind.u2": LoadIndirect(typeof(ushort)); return false;
            case "ldind.i4": LoadIndirect(typeof(int)); return false;
            case "ldind.u4": LoadIndirect(typeof(uint)); return false;
            case "ldind.i8": LoadIndirect(typeof(long)); return false;
            case "ldind.i": LoadIndirect(typeof(nint)); return false;
            case "ldind.r4": LoadIndirect(typeof(float)); return false;
            case "ldind.r8": LoadIndirect(typeof(double)); return false;
            case "ldind.ref": throw Error("object reference load (ldind.ref): objects are not supported in kernels");
            case "stind.i1": StoreIndirect(typeof(sbyte)); return false;
            case "stind.i2": StoreIndirect(typeof(short)); return false;
            case "stind.i4": StoreIndirect(typeof(int)); return false;
            case "stind.i8": StoreIndirect(typeof(long)); return false;
            case "stind.i": StoreIndirect(typeof(nint)); return false;
            case "stind.r4": StoreIndirect(typeof(float)); return false;
            case "stind.r8": StoreIndirect(typeof(double)); return false;
            case "stind.ref": throw Error("object reference store (stind.ref): objects are not supported in kernels");
            case "ldobj": LoadIndirect((Type)ins.Operand!); return false;
            case "stobj": StoreIndirect((Type)ins.Operand!); return false;
            case "cpobj":
            {
                var source = Address(Pop());
                var destination = Address(Pop());
                CopyStruct((Type)ins.Operand!, destination, source);
                return false;
            }
            case "initobj": ZeroFill((Type)ins.Operand!, Address(Pop())); return false;
            case "sizeof": Push(Constant.I32(Layout((Type)ins.Operand!).Size)); return false;

            // ---- fields
            case "ldfld":
            {
                var field = (FieldInfo)ins.Operand!;
                _stack.Add(LoadTyped(field.FieldType, FieldAddress(Pop(), field)));
                return false;
            }
            case "ldflda":
            {
                var field = (FieldInfo)ins.Operand!;
                Push(FieldAddress(Pop(), field));
                return false;
            }
            case "stfld":
            {
                var field = (FieldInfo)ins.Operand!;
                var value = Pop();
                StoreTyped(field.FieldType, FieldAddress(Pop(), field), value);
                return false;
            }
            case "ldsfld": LoadStaticField((FieldInfo)ins.Operand!); return false;
            case "stsfld": throw Error($"store to static field {((FieldInfo)ins.Operand!).Name} (static fields are not supported in kernels)");
            case "ldsflda": throw Error($"address of static field {((FieldInfo)ins.Operand!).Name} (static fields are not supported in kernels)");

            // ---- calls and objects
            case "call": case "callvirt": Call((MethodBase)ins.Operand!, ins.Name == "callvirt"); return false;
            case "newobj": NewObject((MethodBase)ins.Operand!); return false;
            case "calli": throw Error("indirect call (calli): function pointers are not supported in kernels");
            case "ldftn": case "ldvirtftn": throw Error("delegate or function pointer (ldftn): delegates are not supported in kernels");
            case "newarr": throw Error("array allocation (newarr): use SharedMemory/LocalMemory.Allocate");
            case "box": throw Error($"boxing of {ins.Operand} (box): objects are not supported in kernels");
            case "throw": case "rethrow": throw Error("throwing an exception (throw): exceptions are not supported in kernels");
            case "localloc": throw Error("stackalloc (localloc): use LocalMemory.Allocate");
            default:
                if (ins.Name.StartsWith("conv.ovf", StringComparison.Ordinal) || ins.Name.EndsWith(".ovf", StringComparison.Ordinal)
                    || ins.Name.EndsWith(".ovf.un", StringComparison.Ordinal) || ins.Name == "ckfinite")
                    throw Error($"checked arithmetic ({ins.Name}): use unchecked arithmetic in kernels");
                if (ins.Name.StartsWith("ldelem", StringComparison.Ordinal) || ins.Name.StartsWith("stelem", StringComparison.Ordinal)
                    || ins.Name is "ldelema" or "ldlen")
                    throw Error($"managed array access ({ins.Name}): use ArrayView<T>");
                if (ins.Name is "leave" or "endfinally" or "endfilter")
                    throw Error($"exception handling ({ins.Name})");
                throw Error($"unsupported IL instruction {ins.Name}");
        }
    }

    private Value Scalar(StackEntry entry)
        => entry.IsStruct ? throw Error($"struct {entry.Struct} used as a scalar") : entry.Value;

    /// <summary>A pointer from a stack entry: a byref/pointer, a native int used as an address, or a struct value's temporary.</summary>
    private Value Address(StackEntry entry)
    {
        if (entry.IsStruct || entry.Type.IsPointer) return entry.Value;
        if (entry.Type.Kind == TypeKind.Int64) return ConvertTo(entry.Value, IRType.GenericPointer);
        throw Error($"a {entry.Type} value used as an address");
    }

    /// <summary>Brings two operands to one type (IL's int32/native int and F mixing rules; pointers become Int64).</summary>
    private (Value, Value) Unify(Value a, Value b, bool unsigned = false)
    {
        if (a.Type.IsPointer) a = ToInt64(a);
        if (b.Type.IsPointer) b = ToInt64(b);
        if (a.Type == b.Type) return (a, b);
        if (a.Type.IsFloat != b.Type.IsFloat)
            throw Error($"IL arithmetic mixes {a.Type} and {b.Type}");
        return a.Type.Size >= b.Type.Size ? (a, ConvertTo(b, a.Type, unsigned)) : (ConvertTo(a, b.Type, unsigned), b);
    }

    private void Arithmetic(Opcode op)
    {
        var b = Scalar(Pop());
        var a = Scalar(Pop());
        if (op == Opcode.Add && (a.Type.IsPointer || b.Type.IsPointer) && !(a.Type.IsPointer && b.Type.IsPointer))
        {
            var (pointer, offset) = a.Type.IsPointer ? (a, b) : (b, a);
            Push(B.PtrAdd(pointer, ToInt64(offset)));
            return;
        }
        if (op == Opcode.Sub && a.Type.IsPointer && !b.Type.IsPointer)
        {
            Push(B.PtrAdd(a, B.Unary(Opcode.Neg, ToInt64(b))));
            return;
        }
        bool unsigned = op is Opcode.DivUn or Opcode.RemUn;
        var (x, y) = Unify(a, b, unsigned);
        Push(B.Binary(op, x, y));
    }

    private void Shift(Opcode op)
    {
        var amount = Scalar(Pop());
        var value = Scalar(Pop());
        if (value.Type.IsPointer) value = ToInt64(value);
        Push(B.Binary(op, value, ConvertTo(amount, value.Type, unsigned: true)));
    }

    private void ConvertSmall(IRType narrow, bool unsigned)
    {
        var v = Scalar(Pop());
        var truncated = ConvertTo(v, narrow, unsigned && v.Type.IsFloat);
        Push(B.Convert(IRType.Int32, truncated, unsigned));
    }

    private void ConvertInt(IRType target, bool unsigned, bool keepPointer)
    {
        var v = Scalar(Pop());
        if (keepPointer && v.Type.IsPointer)
        {
            Push(v);
            return;
        }
        Push(ConvertTo(v, target, unsigned));
    }

    private void Compare(CompareKind kind)
    {
        var b = Scalar(Pop());
        var a = Scalar(Pop());
        var (x, y) = Unify(a, b);
        PushBool(B.Cmp(kind, x, y));
    }

    private void BranchOn(ILInstruction ins, Value condition)
    {
        var taken = GetBlock(ins.Int);
        var fallThrough = GetBlock(ins.Next);
        FlowTo(taken, fallThrough);
        B.CondBr(condition, taken.Block, fallThrough.Block);
    }

    private void BranchCompare(ILInstruction ins, CompareKind kind)
    {
        var b = Scalar(Pop());
        var a = Scalar(Pop());
        var (x, y) = Unify(a, b);
        BranchOn(ins, B.Cmp(kind, x, y));
    }

    /// <summary>switch → a chain of compare-and-branch blocks; the last falls through to the next instruction.</summary>
    private void Switch(ILInstruction ins)
    {
        var value = ConvertTo(Scalar(Pop()), IRType.Int32);
        var targets = ((int[])ins.Operand!).Select(GetBlock).ToArray();
        var fallThrough = GetBlock(ins.Next);
        FlowTo([.. targets, fallThrough]);
        for (int k = 0; k < targets.Length; k++)
        {
            var next = k + 1 < targets.Length ? _function.AddBlock($"IL_{ins.Offset:x4}_case{k + 1}") : fallThrough.Block;
            B.CondBr(B.Cmp(CompareKind.Eq, value, Constant.I32(k)), targets[k].Block, next);
            B.Block = next;
        }
        if (targets.Length == 0) B.Br(fallThrough.Block);
    }

    private void Return()
    {
        if (_returnType == typeof(void))
        {
            B.Ret();
            return;
        }
        var value = Pop();
        if (_returnPointer is not null)
        {
            StoreTyped(_returnType, _returnPointer, value);
            B.Ret();
            return;
        }
        B.Ret(ConvertTo(Scalar(value), _function.ReturnType));
    }

    private void LoadIndirect(Type type) => _stack.Add(LoadTyped(type, Address(Pop())));

    private void StoreIndirect(Type type)
    {
        var value = Pop();
        StoreTyped(type, Address(Pop()), value);
    }

    private Value FieldAddress(StackEntry instance, FieldInfo field)
    {
        if (field.IsStatic) throw Error($"static field {field.Name} accessed as an instance field");
        // on the GPU a map's bytes are the driver's encoding, not these fields: kernels only pass it on
        if (field.DeclaringType == typeof(TensorMap))
            throw Error($"TensorMap.{field.Name} read in a kernel (a tensor map is opaque on the GPU: pass it to TensorCopy with 'in', and pass what the kernel needs to know of it as arguments of their own)");
        var owner = field.DeclaringType!;
        if (!owner.IsValueType) throw Error($"field {owner.Name}.{field.Name} of a class (objects are not supported in kernels)");
        return AddOffset(Address(instance), Layout(owner).OffsetOf(field));
    }

    /// <summary>static readonly primitive fields become constants (read now); anything else is an error.</summary>
    private void LoadStaticField(FieldInfo field)
    {
        var type = field.FieldType;
        var memory = TypeLayout.ScalarType(type);
        if (!field.IsInitOnly && !field.IsLiteral || memory is null || memory.IsPointer)
            throw Error($"static field {field.DeclaringType?.Name}.{field.Name} (only static readonly primitive fields are supported)");
        object value = field.GetValue(null)!;
        Value constant = ConstantOf(memory, value);
        if (memory.Kind is TypeKind.Int8 or TypeKind.Int16)
            constant = Constant.Int(IRType.Int32, TypeLayout.IsUnsigned(type) ? ((Constant)constant).Bits & (memory.Size == 1 ? 0xFF : 0xFFFF) : ((Constant)constant).Bits);
        Push(constant);
    }
}
