using System.Reflection;

namespace FlashAttn.Compute.IR;

/// <summary>An IR function: parameters, a return type and a control-flow graph whose first block is the entry.</summary>
public sealed class Function(string name, IRType returnType)
{
    /// <summary>Name (the kernel's PTX entry name for kernels).</summary>
    public string Name { get; set; } = name;

    /// <summary>Scalar return type (struct returns go through a hidden first pointer parameter).</summary>
    public IRType ReturnType { get; set; } = returnType;

    /// <summary>Scalar parameters.</summary>
    public List<Parameter> Parameters { get; } = [];

    /// <summary>Blocks; <c>Blocks[0]</c> is the entry.</summary>
    public List<BasicBlock> Blocks { get; } = [];

    /// <summary>The .NET method this function was built from, for error messages.</summary>
    public MethodBase? Source { get; set; }

    /// <summary>True for a kernel entry point (PTX .entry); false for helpers.</summary>
    public bool IsKernel { get; set; }

    /// <summary>Kernels: the most threads per group a launch will use (0: unknown), from <see cref="LaunchBoundsAttribute"/>.</summary>
    public int MaxThreadsPerGroup { get; set; }

    /// <summary>Kernels: resident groups per multiprocessor to plan registers for (0: no request).</summary>
    public int MinGroupsPerMultiprocessor { get; set; }

    /// <summary>The entry block.</summary>
    public BasicBlock Entry => Blocks[0];

    /// <summary>Adds a parameter.</summary>
    public Parameter AddParameter(IRType type, string? name = null)
    {
        var parameter = new Parameter(type, Parameters.Count, name);
        Parameters.Add(parameter);
        return parameter;
    }

    /// <summary>Appends a new empty block.</summary>
    public BasicBlock AddBlock(string name)
    {
        var block = new BasicBlock(this, name);
        Blocks.Add(block);
        return block;
    }

    /// <summary>All instructions of all blocks, in block order.</summary>
    public IEnumerable<Instruction> AllInstructions => Blocks.SelectMany(b => b.Instructions);

    /// <summary>Predecessors of every block (a block appears once per edge kind, deduplicated).</summary>
    public Dictionary<BasicBlock, List<BasicBlock>> ComputePredecessors()
    {
        var predecessors = Blocks.ToDictionary(b => b, _ => new List<BasicBlock>());
        foreach (var block in Blocks)
            foreach (var successor in block.Successors)
                if (predecessors.TryGetValue(successor, out var list) && !list.Contains(block))
                    list.Add(block);
        return predecessors;
    }

    /// <summary>
    /// Replaces every use of each key of <paramref name="replacements"/> by its value, following chains
    /// (a→b, b→c makes uses of a into c). One sweep over the function.
    /// </summary>
    public void ReplaceUses(IReadOnlyDictionary<Value, Value> replacements)
    {
        if (replacements.Count == 0) return;
        Value Resolve(Value v)
        {
            int guard = 0;
            while (replacements.TryGetValue(v, out var next) && !ReferenceEquals(next, v))
            {
                v = next;
                if (++guard > 1_000_000) throw new InvalidOperationException("Cyclic replacement map.");
            }
            return v;
        }
        foreach (var instruction in AllInstructions)
            for (int i = 0; i < instruction.Operands.Count; i++)
                instruction.Operands[i] = Resolve(instruction.Operands[i]);
    }

    /// <summary>Gives every block and value a dense, unique number and every block a unique name.</summary>
    public void Renumber()
    {
        int id = 0;
        foreach (var parameter in Parameters) parameter.Id = id++;
        var names = new HashSet<string>();
        for (int b = 0; b < Blocks.Count; b++)
        {
            var block = Blocks[b];
            block.Index = b;
            string name = block.Name;
            for (int suffix = 1; !names.Add(name); suffix++) name = block.Name + "_" + suffix;
            block.Name = name;
            foreach (var instruction in block.Instructions) instruction.Id = id++;
        }
        ValueCount = id;
    }

    /// <summary>One past the largest value id given by the last <see cref="Renumber"/>.</summary>
    public int ValueCount { get; private set; }

    /// <inheritdoc/>
    public override string ToString() => IRPrinter.Format(this);
}
