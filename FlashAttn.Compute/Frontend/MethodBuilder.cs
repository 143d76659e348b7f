using System.Reflection;
using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Frontend;

/// <summary>
/// One entry of the IL evaluation stack: a scalar IR value (ints of 32 bits or less are Int32, bools are
/// Int32 0/1, native ints Int64, refs and pointers generic pointers), or, when <see cref="Struct"/> is
/// set, a pointer to a temporary alloca holding a struct value.
/// </summary>
internal readonly record struct StackEntry(Value Value, Type? Struct = null)
{
    public bool IsStruct => Struct is not null;
    public IRType Type => Value.Type;
}

/// <summary>
/// Turns one method's IL into IR in memory form (docs/engine.md, "Frontend"): arguments and locals are
/// allocas, values left on the IL stack at block boundaries go through per-depth allocas, struct values
/// are pointers to temporaries, calls to other methods are <c>Call</c>s of their own functions.
/// </summary>
internal sealed partial class MethodBuilder
{
    private sealed class BlockState(int start, BasicBlock block)
    {
        public int Start { get; } = start;
        public BasicBlock Block { get; } = block;
        public List<object>? Shape { get; set; } // per depth: IRType (scalar) or Type (struct)
        public bool Queued { get; set; }
    }

    private readonly CompilationContext _context;
    private readonly MethodBase _method;
    private readonly Function _function;
    private readonly List<ILInstruction> _code;
    private readonly Dictionary<int, int> _indexOf = [];
    private readonly HashSet<int> _leaders = [];
    private readonly Dictionary<int, BlockState> _blocks = [];
    private readonly Queue<BlockState> _work = new();
    private readonly Dictionary<(int, object), Value> _spillSlots = [];
    private readonly List<StackEntry> _stack = [];
    private readonly BasicBlock _entry;
    private int _allocaCount;
    private Value[] _argHomes = [];
    private Type[] _argTypes = [];
    private Value[] _localHomes = [];
    private Type[] _localTypes = [];
    private Value? _returnPointer;
    private Type _returnType = typeof(void);
    private Type? _constrained;
    private int _offset = -1;

    private MethodBuilder(CompilationContext context, MethodBase method, Function function)
    {
        _context = context;
        _method = method;
        _function = function;
        var body = method.GetMethodBody() ?? throw Error("method has no IL body (abstract, extern or runtime-implemented)");
        if (body.ExceptionHandlingClauses.Count > 0)
            throw new CompilationException(method, body.ExceptionHandlingClauses[0].TryOffset,
                "exception handling (try/catch/finally, using or foreach with a disposable enumerator)");
        _code = ILReader.Read(method);
        for (int i = 0; i < _code.Count; i++) _indexOf[_code[i].Offset] = i;
        _entry = function.AddBlock("entry");
        B = new IRBuilder(_entry);
        _localTypes = [.. body.LocalVariables.Select(l => l.LocalType)];
        foreach (var local in body.LocalVariables)
            if (local.IsPinned) throw Error($"pinned local {local.LocalIndex} (fixed statement)");
        FindLeaders();
    }

    /// <summary>The builder at the current position.</summary>
    internal IRBuilder B { get; }

    /// <summary>The method being built.</summary>
    internal MethodBase Method => _method;

    // ---------------------------------------------------------------- entry points

    /// <summary>Builds a helper (non-kernel) function: scalar parameters as on the IL stack, structs by pointer,
    /// a hidden first pointer parameter for a struct return, <c>this</c> as a pointer.</summary>
    public static void BuildHelper(CompilationContext context, MethodBase method, Function function)
    {
        if (method.DeclaringType is { IsValueType: false } && !method.IsStatic)
            throw new CompilationException(method, -1, "instance method of a class (objects are not supported in kernels)");
        var builder = new MethodBuilder(context, method, function);
        builder.SetUpHelperArguments();
        builder.BuildBody();
    }

    /// <summary>Builds a kernel entry: every parameter flattened to scalars with a slot each; specialized
    /// parameters get constants instead.</summary>
    public static List<KernelParameterSlot> BuildKernel(CompilationContext context, MethodInfo method, Function function, IReadOnlyList<object?> specializations)
    {
        var builder = new MethodBuilder(context, method, function);
        var slots = builder.SetUpKernelArguments(specializations);
        builder.BuildBody();
        return slots;
    }

    private static Type ReturnTypeOf(MethodBase m) => m is MethodInfo mi ? mi.ReturnType : typeof(void);

    private static Type[] ArgumentTypes(MethodBase m)
    {
        var list = new List<Type>();
        if (!m.IsStatic) list.Add(m.DeclaringType!.MakeByRefType());
        list.AddRange(m.GetParameters().Select(p => p.ParameterType));
        return [.. list];
    }

    /// <summary>The IR signature of a helper method: (parameter types, return type).</summary>
    public static (List<IRType> Parameters, IRType Return) Signature(MethodBase m)
    {
        var parameters = new List<IRType>();
        var ret = ReturnTypeOf(m);
        IRType returnType = IRType.Void;
        if (ret != typeof(void))
        {
            if (TypeLayout.IsStruct(ret)) parameters.Add(IRType.GenericPointer);
            else returnType = TypeLayout.StackType(ret) ?? throw new CompilationException(m, -1, $"return type {ret} is not supported");
        }
        foreach (var t in ArgumentTypes(m))
            parameters.Add(TypeLayout.IsStruct(t) ? IRType.GenericPointer
                : TypeLayout.StackType(t) ?? throw new CompilationException(m, -1, $"parameter type {t} is not supported (objects are not supported in kernels)"));
        return (parameters, returnType);
    }

    private void SetUpHelperArguments()
    {
        _argTypes = ArgumentTypes(_method);
        _returnType = ReturnTypeOf(_method);
        var (types, ret) = Signature(_method);
        _function.ReturnType = ret;
        int p = 0;
        if (_returnType != typeof(void) && TypeLayout.IsStruct(_returnType))
            _returnPointer = _function.AddParameter(types[p++], "ret");
        var names = _method.GetParameters().Select(x => x.Name ?? "arg").ToList();
        if (!_method.IsStatic) names.Insert(0, "this");
        _argHomes = new Value[_argTypes.Length];
        for (int a = 0; a < _argTypes.Length; a++)
        {
            var parameter = _function.AddParameter(types[p++], names[a]);
            if (TypeLayout.IsStruct(_argTypes[a]))
                _argHomes[a] = parameter; // the caller made a copy for us
            else
            {
                var home = NewAlloca(_argTypes[a], names[a]);
                StoreTyped(_argTypes[a], home, new StackEntry(parameter));
                _argHomes[a] = home;
            }
        }
    }

    private List<KernelParameterSlot> SetUpKernelArguments(IReadOnlyList<object?> specializations)
    {
        _argTypes = ArgumentTypes(_method);
        _returnType = ReturnTypeOf(_method);
        var parameters = _method.GetParameters();
        var slots = new List<KernelParameterSlot>();
        _argHomes = new Value[_argTypes.Length];
        for (int a = 0; a < parameters.Length; a++)
        {
            var type = parameters[a].ParameterType;
            if (type.IsByRef) throw Error($"kernel parameter {parameters[a].Name} is passed by reference");
            if (type == typeof(TensorMap))
            {
                // the map stays in the kernel's parameter block (the 128-byte grid constant on the GPU): its home is its address
                if (specializations[a] is not null) throw Error($"tensor map {parameters[a].Name} cannot be specialized");
                var block = _function.AddParameter(IRType.GenericPointer, CompilationContext.Sanitize(parameters[a].Name ?? "map" + a));
                block.ByValueBytes = TensorMap.DeviceBytes;
                slots.Add(new KernelParameterSlot(a, [], IRType.GenericPointer, TensorMap.DeviceBytes));
                _argHomes[a] = block;
                continue;
            }
            var layout = Layout(type);
            if (layout.Leaves.Any(leaf => leaf.Path.Any(field => field.DeclaringType == typeof(TensorMap))))
                throw Error($"kernel parameter {parameters[a].Name} holds a TensorMap inside a struct; pass each map as a parameter of its own");
            var home = NewAlloca(type, parameters[a].Name);
            _argHomes[a] = home;
            object? special = specializations[a];
            if (special is not null)
            {
                if (special.GetType() != type && type.IsGenericType && type.GetGenericTypeDefinition() == typeof(SpecializedValue<>)
                    && special.GetType() == type.GetGenericArguments()[0])
                    special = Activator.CreateInstance(type, special);
                if (special!.GetType() != type)
                    throw new ArgumentException($"Specialization of parameter {parameters[a].Name} is a {special.GetType()}, expected {type}.", nameof(specializations));
                foreach (var leaf in layout.Leaves)
                {
                    object? value = special;
                    foreach (var field in leaf.Path) value = field.GetValue(value);
                    B.Store(AddOffset(home, leaf.Offset), ConstantOf(leaf.Type, value!), leaf.Type.Size);
                }
                continue;
            }
            foreach (var leaf in layout.Leaves)
            {
                string name = CompilationContext.Sanitize(string.Join("_", [parameters[a].Name ?? "arg" + a, .. leaf.Path.Select(f => f.Name.TrimStart('_'))]));
                var parameter = _function.AddParameter(leaf.Type, name);
                slots.Add(new KernelParameterSlot(a, leaf.Path, leaf.Type));
                B.Store(AddOffset(home, leaf.Offset), parameter, leaf.Type.Size);
            }
        }
        return slots;
    }

    private Constant ConstantOf(IRType type, object value)
    {
        if (type.IsPointer) throw Error("a pointer cannot be specialized");
        return value switch
        {
            bool b => Constant.Int(type, b ? 1 : 0),
            float f => Constant.FloatOf(type, f),
            double d => Constant.FloatOf(type, d),
            Half h => Constant.FloatOf(type, (double)h),
            BFloat16 bf => Constant.FloatOf(type, (float)bf),
            ulong u => Constant.Int(type, unchecked((long)u)),
            nuint u => Constant.Int(type, unchecked((long)u)),
            nint n => Constant.Int(type, n),
            char c => Constant.Int(type, c),
            _ => Constant.Int(type, System.Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)),
        };
    }

    private void BuildBody()
    {
        // Locals: zero-initialized (C# sets localsinit), so Mem2Reg never sees a read before a write.
        bool zero = _method.GetMethodBody()!.InitLocals;
        _localHomes = new Value[_localTypes.Length];
        for (int l = 0; l < _localTypes.Length; l++)
        {
            _localHomes[l] = NewAlloca(_localTypes[l], "loc" + l);
            if (zero) ZeroFill(_localTypes[l], _localHomes[l]);
        }
        var first = GetBlock(0);
        Enqueue(first, []);
        B.Br(first.Block);
        while (_work.Count > 0) ProcessBlock(_work.Dequeue());
    }

    // ---------------------------------------------------------------- blocks

    private void FindLeaders()
    {
        _leaders.Add(0);
        foreach (var ins in _code)
        {
            switch (ins.OpCode.FlowControl)
            {
                case System.Reflection.Emit.FlowControl.Branch:
                case System.Reflection.Emit.FlowControl.Cond_Branch:
                    if (ins.Operand is int target) _leaders.Add(target);
                    else if (ins.Operand is int[] targets) foreach (int t in targets) _leaders.Add(t);
                    _leaders.Add(ins.Next);
                    break;
                case System.Reflection.Emit.FlowControl.Return:
                case System.Reflection.Emit.FlowControl.Throw:
                    _leaders.Add(ins.Next);
                    break;
            }
        }
    }

    private BlockState GetBlock(int offset)
    {
        if (_blocks.TryGetValue(offset, out var state)) return state;
        if (!_indexOf.ContainsKey(offset)) throw Error($"branch to IL_{offset:x4}, which is not an instruction");
        state = new BlockState(offset, _function.AddBlock($"IL_{offset:x4}"));
        _blocks.Add(offset, state);
        return state;
    }

    private void Enqueue(BlockState state, List<object> shape)
    {
        state.Shape ??= shape;
        if (state.Queued) return;
        state.Queued = true;
        _work.Enqueue(state);
    }

    private static object ShapeOf(StackEntry e) => e.IsStruct ? e.Struct! : e.Type.IsPointer ? IRType.GenericPointer : e.Type;

    private Value SpillSlot(int depth, object kind)
    {
        if (_spillSlots.TryGetValue((depth, kind), out var slot)) return slot;
        slot = kind is Type t ? NewAlloca(t, $"stack{depth}") : NewAllocaRaw(((IRType)kind).Size, ((IRType)kind).Size, $"stack{depth}");
        _spillSlots.Add((depth, kind), slot);
        return slot;
    }

    /// <summary>Stores the remaining stack into the per-depth slots the targets expect and queues the targets.</summary>
    private void FlowTo(params BlockState[] targets)
    {
        var current = _stack.Select(ShapeOf).ToList();
        var stored = new HashSet<(int, object)>();
        foreach (var target in targets)
        {
            var shape = target.Shape ?? current;
            if (shape.Count != _stack.Count)
                throw Error($"IL stack depth {_stack.Count} differs from {shape.Count} at IL_{target.Start:x4}");
            for (int d = 0; d < shape.Count; d++)
            {
                if (!stored.Add((d, shape[d]))) continue;
                var slot = SpillSlot(d, shape[d]);
                var entry = _stack[d];
                if (shape[d] is Type structType)
                {
                    if (!entry.IsStruct) throw Error($"IL stack mismatch at IL_{target.Start:x4}");
                    if (!ReferenceEquals(entry.Value, slot)) CopyStruct(structType, slot, entry.Value);
                }
                else
                {
                    if (entry.IsStruct) throw Error($"IL stack mismatch at IL_{target.Start:x4}");
                    B.Store(slot, ConvertTo(entry.Value, (IRType)shape[d]));
                }
            }
            Enqueue(target, shape);
        }
    }

    private void ProcessBlock(BlockState state)
    {
        B.Block = state.Block;
        _stack.Clear();
        for (int d = 0; d < state.Shape!.Count; d++)
        {
            var kind = state.Shape[d];
            var slot = SpillSlot(d, kind);
            _stack.Add(kind is Type t ? new StackEntry(slot, t) : new StackEntry(B.Load((IRType)kind, slot)));
        }
        _constrained = null;
        int i = _indexOf[state.Start];
        while (true)
        {
            var ins = _code[i];
            _offset = ins.Offset;
            if (EmitInstruction(ins)) return;
            i++;
            if (i >= _code.Count) throw Error("control falls off the end of the method");
            if (_leaders.Contains(_code[i].Offset))
            {
                var next = GetBlock(_code[i].Offset);
                FlowTo(next);
                B.Br(next.Block);
                return;
            }
        }
    }

    // ---------------------------------------------------------------- helpers used by the emitters

    /// <summary>A CompilationException at the current IL offset.</summary>
    internal CompilationException Error(string construct) => new(_method, _offset, construct);

    internal TypeLayout Layout(Type type)
    {
        try
        {
            return TypeLayout.Of(type);
        }
        catch (CompilationException e) when (e.Method is null)
        {
            throw new CompilationException(_method, _offset, e.Construct, e);
        }
    }

    internal StackEntry Pop()
    {
        if (_stack.Count == 0) throw Error("IL stack underflow");
        var e = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return e;
    }

    internal StackEntry Peek() => _stack.Count > 0 ? _stack[^1] : throw Error("IL stack underflow");

    internal void Push(Value value) => _stack.Add(new StackEntry(value));

    internal void PushStruct(Value pointer, Type type) => _stack.Add(new StackEntry(pointer, type));

    /// <summary>Pushes a Bool as an Int32 0/1 (IL has no bool on the stack).</summary>
    internal void PushBool(Value condition) => Push(B.Convert(IRType.Int32, condition, unsigned: true));

    internal Instruction Emit(Instruction instruction) => B.Block.Append(instruction);

    /// <summary>An alloca in the entry block sized for <paramref name="type"/>.</summary>
    internal Value NewAlloca(Type type, string? name = null)
    {
        var layout = Layout(type);
        return NewAllocaRaw(layout.Size, layout.Alignment, name);
    }

    private Value NewAllocaRaw(int size, int alignment, string? name)
    {
        var alloca = new Instruction(Opcode.Alloca, IRType.Pointer(AddressSpace.Local)) { AllocaSize = size, Alignment = Math.Max(1, alignment), Name = name };
        _entry.Insert(_allocaCount++, alloca);
        return alloca;
    }

    internal Value AddOffset(Value pointer, long offset)
        => offset == 0 ? pointer : B.PtrAdd(pointer, Constant.I64(offset));

    /// <summary>
    /// Copies a struct field by field (scalar loads and stores). Each access carries the alignment the
    /// struct's own alignment guarantees at that offset, so the backend can merge the copy of a
    /// [VectorType] struct into one vector access.
    /// </summary>
    internal void CopyStruct(Type type, Value destination, Value source)
    {
        var layout = Layout(type);
        foreach (var leaf in layout.Leaves)
        {
            int alignment = AlignmentAt(layout.Alignment, leaf.Offset, leaf.Type.Size);
            B.Store(AddOffset(destination, leaf.Offset), B.Load(leaf.Type, AddOffset(source, leaf.Offset), alignment), alignment);
        }
    }

    /// <summary>The alignment known at <paramref name="offset"/> inside an object aligned to <paramref name="baseAlignment"/>.</summary>
    private static int AlignmentAt(int baseAlignment, long offset, int accessSize)
    {
        int alignment = Math.Max(1, baseAlignment);
        while (alignment > 1 && offset % alignment != 0) alignment /= 2;
        return Math.Max(alignment, Math.Max(1, accessSize));
    }

    internal void ZeroFill(Type type, Value destination)
    {
        foreach (var leaf in Layout(type).Leaves)
            B.Store(AddOffset(destination, leaf.Offset), Zero(leaf.Type));
    }

    internal static Constant Zero(IRType type) => type.IsFloat ? Constant.FloatOf(type, 0) : Constant.Int(type, 0);

    /// <summary>Reads a <paramref name="type"/> at <paramref name="pointer"/> onto the stack form.</summary>
    internal StackEntry LoadTyped(Type type, Value pointer)
    {
        if (TypeLayout.IsStruct(type))
        {
            var temp = NewAlloca(type);
            CopyStruct(type, temp, pointer);
            return new StackEntry(temp, type);
        }
        var memory = TypeLayout.ScalarType(type) ?? throw Error($"type {type} is not supported (objects are not supported in kernels)");
        Value value = B.Load(memory, pointer);
        if (memory.Kind is TypeKind.Int8 or TypeKind.Int16)
            value = B.Convert(IRType.Int32, value, TypeLayout.IsUnsigned(type));
        return new StackEntry(value);
    }

    /// <summary>Writes a stack value as a <paramref name="type"/> at <paramref name="pointer"/>.</summary>
    internal void StoreTyped(Type type, Value pointer, StackEntry value)
    {
        if (TypeLayout.IsStruct(type))
        {
            if (!value.IsStruct && !value.Type.IsPointer) throw Error($"storing a scalar as struct {type}");
            CopyStruct(type, pointer, value.Value);
            return;
        }
        var memory = TypeLayout.ScalarType(type) ?? throw Error($"type {type} is not supported (objects are not supported in kernels)");
        if (value.IsStruct) throw Error($"storing struct {value.Struct} as {type}");
        B.Store(pointer, ConvertTo(value.Value, memory));
    }

    /// <summary>Converts between scalar IR types the way IL's implicit stack conversions do
    /// (sign-extension, truncation, pointer/integer reinterpretation, float widening/narrowing).</summary>
    internal Value ConvertTo(Value value, IRType target, bool unsigned = false)
    {
        if (value.Type == target) return value;
        if (target.IsPointer)
        {
            if (value.Type.IsPointer) return value;
            return Emit(new Instruction(Opcode.IntToPtr, target, ConvertTo(value, IRType.Int64, unsigned)));
        }
        if (value.Type.IsPointer)
            value = Emit(new Instruction(Opcode.PtrToInt, IRType.Int64, value));
        if (value.Type == target) return value;
        if (value is Constant { Type.IsInteger: true } c && target.IsInteger)
        {
            long bits = unsigned && c.Type.Size < target.Size ? c.Bits & (long)(ulong.MaxValue >> (64 - 8 * c.Type.Size)) : c.Bits;
            return Constant.Int(target, bits); // IL literals widened to native int (sizeof · index)
        }
        if (value.Type.Kind == TypeKind.Bool && target.IsFloat)
            value = B.Convert(IRType.Int32, value, true);
        return B.Convert(target, value, unsigned);
    }

    internal Value ToBool(StackEntry entry)
    {
        var v = entry.Value;
        if (v.Type.Kind == TypeKind.Bool) return v;
        if (v.Type.IsPointer) v = ConvertTo(v, IRType.Int64);
        return B.Cmp(CompareKind.Ne, v, Zero(v.Type));
    }

    internal Value ToInt64(Value v, bool unsigned = false) => ConvertTo(v, IRType.Int64, unsigned);
}
