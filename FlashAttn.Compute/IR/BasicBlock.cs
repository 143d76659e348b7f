namespace FlashAttn.Compute.IR;

/// <summary>A straight-line run of instructions: phis first, one terminator last.</summary>
public sealed class BasicBlock(Function parent, string name)
{
    /// <summary>The function holding the block.</summary>
    public Function Parent { get; } = parent;

    /// <summary>Label (unique within the function after <see cref="Function.Renumber"/>).</summary>
    public string Name { get; set; } = name;

    /// <summary>A number for dense maps (see <see cref="Function.Renumber"/>).</summary>
    public int Index { get; set; }

    /// <summary>The instructions, in order.</summary>
    public List<Instruction> Instructions { get; } = [];

    /// <summary>The last instruction if it is a terminator, else null.</summary>
    public Instruction? Terminator => Instructions.Count > 0 && Instructions[^1].IsTerminator ? Instructions[^1] : null;

    /// <summary>Successor blocks, from the terminator.</summary>
    public IReadOnlyList<BasicBlock> Successors => Terminator?.Targets ?? (IReadOnlyList<BasicBlock>)[];

    /// <summary>The leading phi instructions.</summary>
    public IEnumerable<Instruction> Phis => Instructions.TakeWhile(i => i.Op == Opcode.Phi);

    /// <summary>Appends <paramref name="instruction"/> and sets its block.</summary>
    public Instruction Append(Instruction instruction)
    {
        instruction.Block = this;
        Instructions.Add(instruction);
        return instruction;
    }

    /// <summary>Inserts <paramref name="instruction"/> at <paramref name="index"/> and sets its block.</summary>
    public Instruction Insert(int index, Instruction instruction)
    {
        instruction.Block = this;
        Instructions.Insert(index, instruction);
        return instruction;
    }

    /// <summary>Inserts before the terminator (or at the end when there is none).</summary>
    public Instruction InsertBeforeTerminator(Instruction instruction)
        => Insert(Terminator is null ? Instructions.Count : Instructions.Count - 1, instruction);

    /// <inheritdoc/>
    public override string ToString() => Name;
}
