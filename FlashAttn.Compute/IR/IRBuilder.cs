namespace FlashAttn.Compute.IR;

/// <summary>Appends instructions to a block. Each method returns the new instruction.</summary>
public sealed class IRBuilder(BasicBlock block)
{
    /// <summary>Where instructions go.</summary>
    public BasicBlock Block { get; set; } = block;

    private Instruction Emit(Instruction instruction) => Block.Append(instruction);

    /// <summary>A binary arithmetic or bitwise operation; the result has the type of <paramref name="a"/>.</summary>
    public Instruction Binary(Opcode op, Value a, Value b) => Emit(new Instruction(op, a.Type, a, b));
    /// <summary>Neg or Not.</summary>
    public Instruction Unary(Opcode op, Value a) => Emit(new Instruction(op, a.Type, a));
    /// <summary>a + b.</summary>
    public Instruction Add(Value a, Value b) => Binary(Opcode.Add, a, b);
    /// <summary>a - b.</summary>
    public Instruction Sub(Value a, Value b) => Binary(Opcode.Sub, a, b);
    /// <summary>a · b.</summary>
    public Instruction Mul(Value a, Value b) => Binary(Opcode.Mul, a, b);

    /// <summary>Comparison producing Bool.</summary>
    public Instruction Cmp(CompareKind kind, Value a, Value b)
        => Emit(new Instruction(Opcode.Cmp, IRType.Bool, a, b) { Compare = kind });

    /// <summary>condition ? ifTrue : ifFalse.</summary>
    public Instruction Select(Value condition, Value ifTrue, Value ifFalse)
        => Emit(new Instruction(Opcode.Select, ifTrue.Type, condition, ifTrue, ifFalse));

    /// <summary>Conversion to <paramref name="type"/>.</summary>
    public Instruction Convert(IRType type, Value value, bool unsigned = false)
        => Emit(new Instruction(Opcode.Convert, type, value) { Unsigned = unsigned });

    /// <summary>A stack slot of <paramref name="size"/> bytes (put allocas in the entry block).</summary>
    public Instruction Alloca(int size, int alignment)
        => Emit(new Instruction(Opcode.Alloca, IRType.Pointer(AddressSpace.Local)) { AllocaSize = size, Alignment = alignment });

    /// <summary>Reads a <paramref name="type"/> at <paramref name="pointer"/>.</summary>
    public Instruction Load(IRType type, Value pointer, int alignment = 0)
        => Emit(new Instruction(Opcode.Load, type, pointer) { Alignment = alignment > 0 ? alignment : Math.Max(1, type.Size) });

    /// <summary>Writes <paramref name="value"/> at <paramref name="pointer"/>.</summary>
    public Instruction Store(Value pointer, Value value, int alignment = 0)
        => Emit(new Instruction(Opcode.Store, IRType.Void, pointer, value) { Alignment = alignment > 0 ? alignment : Math.Max(1, value.Type.Size) });

    /// <summary>pointer + byteOffset (Int64).</summary>
    public Instruction PtrAdd(Value pointer, Value byteOffset)
        => Emit(new Instruction(Opcode.PtrAdd, pointer.Type, pointer, byteOffset));

    /// <summary>Calls <paramref name="callee"/>.</summary>
    public Instruction Call(Function callee, params Value[] arguments)
        => Emit(new Instruction(Opcode.Call, callee.ReturnType, arguments) { Callee = callee });

    /// <summary>A programming-model operation.</summary>
    public Instruction Intrinsic(IntrinsicOp op, IRType type, params Value[] operands)
        => Emit(new Instruction(Opcode.Intrinsic, type, operands) { Intrinsic = op });

    /// <summary>An empty phi of <paramref name="type"/> (inserted before the block's other instructions).</summary>
    public Instruction Phi(IRType type)
    {
        var phi = new Instruction(Opcode.Phi, type);
        Block.Insert(Block.Phis.Count(), phi);
        return phi;
    }

    /// <summary>Jump to <paramref name="target"/>.</summary>
    public Instruction Br(BasicBlock target)
    {
        var br = new Instruction(Opcode.Br, IRType.Void);
        br.Targets.Add(target);
        return Emit(br);
    }

    /// <summary>Jump to <paramref name="ifTrue"/> or <paramref name="ifFalse"/>.</summary>
    public Instruction CondBr(Value condition, BasicBlock ifTrue, BasicBlock ifFalse)
    {
        var br = new Instruction(Opcode.CondBr, IRType.Void, condition);
        br.Targets.Add(ifTrue);
        br.Targets.Add(ifFalse);
        return Emit(br);
    }

    /// <summary>Return (with <paramref name="value"/> unless null).</summary>
    public Instruction Ret(Value? value = null)
        => Emit(value is null ? new Instruction(Opcode.Ret, IRType.Void) : new Instruction(Opcode.Ret, IRType.Void, value));
}
