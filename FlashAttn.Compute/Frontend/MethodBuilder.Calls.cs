using System.Reflection;
using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Frontend;

/// <summary>Calls, constructors and intrinsics of <see cref="MethodBuilder"/>.</summary>
internal sealed partial class MethodBuilder
{
    private void Call(MethodBase target, bool isVirtual)
    {
        var constrained = _constrained;
        _constrained = null;
        if (constrained is not null) target = ResolveConstrained(constrained, target);
        else if (target.IsAbstract && target.IsStatic)
            throw Error($"static abstract method {target.DeclaringType?.Name}.{target.Name} called without a constrained type");

        if (target.GetCustomAttribute<IntrinsicAttribute>() is { } intrinsic)
        {
            EmitIntrinsic((MethodInfo)target, intrinsic.Op);
            return;
        }
        if (BclIntrinsics.TryEmit(this, target)) return;

        if (target.DeclaringType is { IsValueType: false } owner && !target.IsStatic)
        {
            string what = isVirtual && target.IsVirtual ? "virtual call" : "instance call";
            throw Error($"{what} to {owner.Name}.{target.Name} on a class (objects are not supported in kernels)");
        }
        if (target.IsAbstract)
            throw Error($"call to abstract method {target.DeclaringType?.Name}.{target.Name} that could not be resolved to a struct implementation");
        if (target.ContainsGenericParameters)
            throw Error($"call to open generic method {target.Name}");
        if ((target.MethodImplementationFlags & MethodImplAttributes.InternalCall) != 0 || target.GetMethodBody() is null)
            throw Error($"call to {target.DeclaringType?.Name}.{target.Name}, which has no IL body and no known GPU meaning");

        EmitCall(target, thisEntry: null);
    }

    /// <summary>Pops the arguments of <paramref name="target"/> and emits a Call (with a struct return temporary when needed).</summary>
    private void EmitCall(MethodBase target, Value? thisEntry)
    {
        var callee = _context.GetOrBuild(target, _method, _offset);
        var types = ArgumentTypes(target);
        int explicitCount = thisEntry is null ? types.Length : types.Length - 1;
        var popped = new StackEntry[explicitCount];
        for (int k = explicitCount - 1; k >= 0; k--) popped[k] = Pop();

        var arguments = new List<Value>();
        var returnType = ReturnTypeOf(target);
        Value? returnTemp = null;
        if (returnType != typeof(void) && TypeLayout.IsStruct(returnType))
        {
            returnTemp = NewAlloca(returnType, "ret");
            arguments.Add(returnTemp);
        }
        if (thisEntry is not null) arguments.Add(thisEntry);
        int offset = thisEntry is null ? 0 : 1;
        for (int k = 0; k < explicitCount; k++)
        {
            var type = types[k + offset];
            var entry = popped[k];
            if (TypeLayout.IsStruct(type))
            {
                var copy = NewAlloca(type, "arg");
                CopyStruct(type, copy, Address(entry));
                arguments.Add(copy);
            }
            else if (k == 0 && offset == 0 && !target.IsStatic)
                arguments.Add(Address(entry)); // this: a pointer to the struct
            else
                arguments.Add(ConvertTo(Scalar(entry), TypeLayout.StackType(type)!, TypeLayout.IsUnsigned(type)));
        }
        var call = B.Call(callee, [.. arguments]);
        if (returnTemp is not null) PushStruct(returnTemp, returnType);
        else if (returnType != typeof(void)) Push(call);
    }

    /// <summary>newobj: structs are built in a temporary (the constructor gets its pointer); classes are errors.</summary>
    private void NewObject(MethodBase constructor)
    {
        var type = constructor.DeclaringType!;
        if (!type.IsValueType)
            throw Error($"object allocation (newobj {type.Name}): objects are not supported in kernels");
        var temp = NewAlloca(type, "new");
        ZeroFill(type, temp);
        EmitCall(constructor, temp);
        if (TypeLayout.IsStruct(type)) PushStruct(temp, type);
        else _stack.Add(LoadTyped(type, temp));
    }

    /// <summary>
    /// <c>constrained. T</c>: a struct's own implementation of an interface method (instance or static
    /// abstract, through <see cref="Type.GetInterfaceMap"/>) or of an overridden object method.
    /// </summary>
    private MethodBase ResolveConstrained(Type constrained, MethodBase method)
    {
        if (!constrained.IsValueType)
        {
            if (method.IsStatic && method.IsAbstract)
                throw Error($"static abstract method {method.Name} resolved on class {constrained.Name} (use a struct)");
            throw Error($"call on a class-typed generic argument {constrained.Name} (objects are not supported in kernels)");
        }
        var declaring = method.DeclaringType!;
        if (declaring.IsInterface)
        {
            var definition = method is MethodInfo { IsGenericMethod: true } gm ? gm.GetGenericMethodDefinition() : method;
            InterfaceMapping map;
            try
            {
                map = constrained.GetInterfaceMap(declaring);
            }
            catch (ArgumentException)
            {
                throw Error($"{constrained.Name} does not implement {declaring.Name}");
            }
            for (int k = 0; k < map.InterfaceMethods.Length; k++)
            {
                var candidate = map.InterfaceMethods[k];
                if (candidate.MetadataToken != definition.MetadataToken || candidate.Module != definition.Module) continue;
                MethodInfo implementation = map.TargetMethods[k];
                if (implementation.DeclaringType is { IsInterface: true })
                    throw Error($"default interface method {declaring.Name}.{method.Name} on {constrained.Name} (needs boxing)");
                if (method is MethodInfo { IsGenericMethod: true } closed)
                    implementation = implementation.MakeGenericMethod(closed.GetGenericArguments());
                return implementation;
            }
            throw Error($"no implementation of {declaring.Name}.{method.Name} in {constrained.Name}");
        }
        if (declaring == constrained) return method;
        // An object method (ToString, Equals, GetHashCode): only a struct's own override avoids boxing.
        var parameters = method.GetParameters().Select(p => p.ParameterType).ToArray();
        var own = constrained.GetMethod(method.Name, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly, parameters);
        if (own is null)
            throw Error($"call of inherited method {declaring.Name}.{method.Name} on struct {constrained.Name} (needs boxing)");
        return own;
    }

    // ---------------------------------------------------------------- intrinsics

    /// <summary>
    /// An <c>[Intrinsic]</c> model method → one Intrinsic instruction (<see cref="Instruction.Method"/> set).
    /// Operands are the arguments in order (a <c>ref T</c> is a pointer; a bool is Bool); a bool result is
    /// Bool (widened to Int32 on the stack); atomics and shuffles carry the payload type in
    /// <see cref="Instruction.ElementType"/>.
    /// <para>Allocations: the intrinsic returns the generic pointer and the frontend builds the
    /// <c>ArrayView</c> {pointer, length} in a temporary. <c>ElementType</c> is T's scalar IR type and operand 0
    /// the element count; for a struct T (e.g. Float4) <c>ElementType</c> is Int8 and operand 0 the byte
    /// count (count · sizeof(T)). <c>Alignment</c> is max(16, alignment of T).</para>
    /// <para><c>SharedMemory.GetDynamic&lt;T&gt;()</c> emits two <c>SharedDynamic</c> intrinsics without operands:
    /// one of pointer type (the base address of the dynamic shared memory) and one of Int32 type (its size in
    /// bytes, PTX <c>%dynamic_smem_size</c>); the view's length is bytes / sizeof(T) (unsigned).</para>
    /// </summary>
    private void EmitIntrinsic(MethodInfo method, IntrinsicOp op)
    {
        var parameters = method.GetParameters();
        var popped = new StackEntry[parameters.Length];
        for (int k = parameters.Length - 1; k >= 0; k--) popped[k] = Pop();

        if (op is IntrinsicOp.SharedAllocate or IntrinsicOp.LocalAllocate or IntrinsicOp.SharedDynamic)
        {
            var element = method.GetGenericArguments()[0];
            var layout = Layout(element);
            var scalar = TypeLayout.ScalarType(element);
            var elementType = scalar ?? IRType.Int8;
            int alignment = Math.Max(16, layout.Alignment);
            Value pointer, length;
            if (op == IntrinsicOp.SharedDynamic)
            {
                pointer = B.Intrinsic(op, IRType.GenericPointer);
                ((Instruction)pointer).ElementType = elementType;
                ((Instruction)pointer).Method = method;
                ((Instruction)pointer).Alignment = alignment;
                var bytes = B.Intrinsic(op, IRType.Int32);
                bytes.Method = method;
                bytes.ElementType = IRType.Int8;
                length = B.Binary(Opcode.DivUn, bytes, Constant.I32(layout.Size));
            }
            else
            {
                length = ConvertTo(Scalar(popped[0]), IRType.Int32);
                Value count = scalar is null ? B.Mul(length, Constant.I32(layout.Size)) : length;
                var allocation = B.Intrinsic(op, IRType.GenericPointer, count);
                allocation.ElementType = elementType;
                allocation.Method = method;
                allocation.Alignment = alignment;
                pointer = allocation;
            }
            PushArrayView(method.ReturnType, pointer, length);
            return;
        }

        var operands = new List<Value>();
        for (int k = 0; k < parameters.Length; k++)
            AddIntrinsicOperands(parameters[k].ParameterType, popped[k], operands);
        var returnType = method.ReturnType;
        if (returnType != typeof(void) && TypeLayout.IsStruct(returnType))
        {
            EmitMultiResultIntrinsic(method, op, returnType, operands);
            return;
        }
        IRType resultType = returnType == typeof(void) ? IRType.Void
            : returnType == typeof(bool) ? IRType.Bool
            : TypeLayout.StackType(returnType)!;
        var instruction = B.Intrinsic(op, resultType, [.. operands]);
        instruction.Method = method;
        if (op is >= IntrinsicOp.AtomicAdd and <= IntrinsicOp.AtomicCompareExchange && parameters.Length > 0 && parameters[0].ParameterType.IsByRef)
            instruction.ElementType = TypeLayout.ScalarType(parameters[0].ParameterType.GetElementType()!);
        else if (op is >= IntrinsicOp.ShuffleIdx and <= IntrinsicOp.ShuffleDown)
            instruction.ElementType = TypeLayout.ScalarType(parameters[0].ParameterType);
        if (resultType.Kind == TypeKind.Bool) PushBool(instruction);
        else if (resultType.Kind != TypeKind.Void)
        {
            // Small integer results (none today) would be widened here; stack types already are Int32.
            Push(instruction);
        }
    }

    /// <summary>
    /// The operands of one intrinsic argument: a pointer for <c>ref T</c>, a Bool for bool, the scalar otherwise; a struct
    /// argument (a tensor-core fragment such as <see cref="Int4"/>) contributes its leaves in field order.
    /// </summary>
    private void AddIntrinsicOperands(Type type, StackEntry entry, List<Value> operands)
    {
        if (type.IsByRef || type.IsPointer) operands.Add(Address(entry));
        else if (type == typeof(bool)) operands.Add(ToBool(entry));
        else if (TypeLayout.IsStruct(type))
        {
            var address = Address(entry);
            foreach (var leaf in Layout(type).Leaves)
                operands.Add(B.Load(leaf.Type, AddOffset(address, leaf.Offset)));
        }
        else operands.Add(ConvertTo(Scalar(entry), TypeLayout.StackType(type)!, TypeLayout.IsUnsigned(type)));
    }

    /// <summary>
    /// An intrinsic whose model method returns a struct (an mma's four accumulators, an ldmatrix's registers): one Void
    /// Intrinsic (the aggregate) and one <see cref="Opcode.Extract"/> per leaf of the struct, stored into a temporary that
    /// is pushed as the struct value (Mem2Reg turns it back into the Extracts).
    /// </summary>
    private void EmitMultiResultIntrinsic(MethodInfo method, IntrinsicOp op, Type returnType, List<Value> operands)
    {
        var aggregate = B.Intrinsic(op, IRType.Void, [.. operands]);
        aggregate.Method = method;
        var temp = NewAlloca(returnType, "result");
        var leaves = Layout(returnType).Leaves;
        for (int k = 0; k < leaves.Count; k++)
        {
            var extract = Emit(new Instruction(Opcode.Extract, leaves[k].Type, aggregate) { Index = k });
            B.Store(AddOffset(temp, leaves[k].Offset), extract);
        }
        PushStruct(temp, returnType);
    }

    /// <summary>Builds an ArrayView {pointer, length} in a temporary and pushes it.</summary>
    internal void PushArrayView(Type viewType, Value pointer, Value length)
    {
        var layout = Layout(viewType);
        var temp = NewAlloca(viewType, "view");
        foreach (var (field, offset) in layout.Fields)
        {
            if (field.Name == "_pointer") B.Store(AddOffset(temp, offset), pointer);
            else if (field.Name == "_length") B.Store(AddOffset(temp, offset), ConvertTo(length, IRType.Int64));
        }
        PushStruct(temp, viewType);
    }
}
