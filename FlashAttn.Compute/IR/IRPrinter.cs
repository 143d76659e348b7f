using System.Text;

namespace FlashAttn.Compute.IR;

/// <summary>Text form of the IR, for tests, dumps and error messages.</summary>
public static class IRPrinter
{
    /// <summary>The whole function.</summary>
    public static string Format(Function function)
    {
        function.Renumber();
        var text = new StringBuilder();
        text.Append(function.IsKernel ? "kernel " : "func ").Append(function.ReturnType).Append(' ').Append(function.Name).Append('(');
        text.AppendJoin(", ", function.Parameters.Select(p => $"{p.Type} {Name(p)}"));
        text.AppendLine(") {");
        foreach (var block in function.Blocks)
        {
            text.Append(block.Name).AppendLine(":");
            foreach (var instruction in block.Instructions)
                text.Append("  ").AppendLine(Format(instruction));
        }
        return text.AppendLine("}").ToString();
    }

    /// <summary>One instruction.</summary>
    public static string Format(Instruction i)
    {
        var text = new StringBuilder();
        if (i.Type.Kind != TypeKind.Void) text.Append(Name(i)).Append(" = ");
        text.Append(i.Op switch
        {
            Opcode.Cmp => "cmp." + i.Compare.ToString().ToLowerInvariant(),
            Opcode.Intrinsic => "intrinsic." + i.Intrinsic,
            Opcode.Convert when i.Unsigned => "convert.un",
            Opcode.Call => "call " + i.Callee?.Name,
            _ => i.Op.ToString().ToLowerInvariant(),
        });
        if (i.Type.Kind != TypeKind.Void) text.Append(' ').Append(i.Type);
        if (i.Op == Opcode.Phi)
            text.Append(' ').AppendJoin(", ", i.Operands.Select((v, k) => $"[{Name(v)}, {i.PhiBlocks[k].Name}]"));
        else if (i.Operands.Count > 0)
            text.Append(' ').AppendJoin(", ", i.Operands.Select(Name));
        if (i.Targets.Count > 0) text.Append(" -> ").AppendJoin(", ", i.Targets.Select(t => t.Name));
        if (i.Op == Opcode.Alloca) text.Append($" [{i.AllocaSize} bytes, align {i.Alignment}]");
        if (i.Op == Opcode.Extract) text.Append($" #{i.Index}");
        if (i.ElementType is not null) text.Append($" <{i.ElementType}>");
        return text.ToString();
    }

    /// <summary>How a value appears as an operand.</summary>
    public static string Name(Value value) => value switch
    {
        Constant c => c.ToString(),
        Parameter p => p.ToString(),
        _ => "%" + (value.Name is { } n ? n + "." : "v") + value.Id,
    };
}
