namespace FlashAttn.Compute.IR.Transformations;

/// <summary>
/// Gives every pointer value the most specific address space it provably has: kernel pointer parameters
/// are Global, shared allocations Shared, allocas and local allocations Local; <c>PtrAdd</c>, phis and
/// selects propagate (a meet of different spaces is Generic); pointers loaded from memory are Generic.
/// Where a specific-space pointer flows into a generic position (a generic phi or select, a stored value,
/// a call argument, a return, a pointer comparison of mixed spaces, <c>PtrToInt</c>) an
/// <c>AddrSpaceCast</c> to generic is inserted.
/// </summary>
public sealed class AddressSpaceInference : FunctionPass
{
    /// <inheritdoc/>
    public override string Name => "AddressSpaceInference";

    private static AddressSpace? Meet(AddressSpace? a, AddressSpace? b)
        => a is null ? b : b is null ? a : a == b ? a : AddressSpace.Generic;

    /// <inheritdoc/>
    public override bool Run(Function function)
    {
        var space = new Dictionary<Value, AddressSpace?>();
        AddressSpace? Of(Value v) => v.Type.IsPointer
            ? (v is Constant ? AddressSpace.Generic : space.TryGetValue(v, out var s) ? s : null)
            : null;
        foreach (var parameter in function.Parameters.Where(p => p.Type.IsPointer))
            // a kernel's pointers point into device memory, but a by-value block's address is a generic one (into .param)
            space[parameter] = function.IsKernel && parameter.ByValueBytes == 0 ? AddressSpace.Global : parameter.Type.Space;

        bool changed = true;
        for (int round = 0; changed && round < 1000; round++)
        {
            changed = false;
            foreach (var i in function.AllInstructions)
            {
                if (!i.Type.IsPointer) continue;
                AddressSpace? s = i.Op switch
                {
                    Opcode.Alloca => AddressSpace.Local,
                    Opcode.Intrinsic => i.Intrinsic switch
                    {
                        IntrinsicOp.SharedAllocate or IntrinsicOp.SharedDynamic => AddressSpace.Shared,
                        IntrinsicOp.LocalAllocate => AddressSpace.Local,
                        _ => i.Type.Space,
                    },
                    Opcode.PtrAdd => Of(i.Operands[0]),
                    Opcode.Phi => i.Operands.Select(Of).Aggregate((AddressSpace?)null, Meet),
                    Opcode.Select => Meet(Of(i.Operands[1]), Of(i.Operands[2])),
                    Opcode.Load => AddressSpace.Generic,
                    _ => i.Type.Space,  // casts, inttoptr, calls: as declared
                };
                if (s is null) continue;
                var before = space.TryGetValue(i, out var old) ? old : null;
                var after = Meet(before, s);
                if (after != before) { space[i] = after; changed = true; }
            }
        }

        bool any = false;
        foreach (var (value, s) in space)
        {
            var type = IRType.Pointer(s ?? AddressSpace.Generic);
            if (value.Type != type) { value.Type = type; any = true; }
        }

        // Casts where a specific pointer meets a generic position.
        foreach (var block in function.Blocks.ToList())
        {
            for (int index = 0; index < block.Instructions.Count; index++)
            {
                var i = block.Instructions[index];
                for (int k = 0; k < i.Operands.Count; k++)
                {
                    var operand = i.Operands[k];
                    if (!operand.Type.IsPointer || operand.Type.Space == AddressSpace.Generic || operand is Constant) continue;
                    IRType? wanted = i.Op switch
                    {
                        Opcode.Phi or Opcode.Select when k > 0 || i.Op == Opcode.Phi => i.Type,
                        Opcode.Store when k == 1 => IRType.GenericPointer,
                        Opcode.Call => i.Callee!.Parameters[k].Type,
                        Opcode.Ret => function.ReturnType,
                        Opcode.PtrToInt => IRType.GenericPointer,
                        Opcode.Cmp when i.Operands[0].Type != i.Operands[1].Type => IRType.GenericPointer,
                        _ => null,
                    };
                    if (wanted is null || wanted == operand.Type || !wanted.IsPointer) continue;
                    var cast = new Instruction(Opcode.AddrSpaceCast, wanted, operand);
                    if (i.Op == Opcode.Phi) i.PhiBlocks[k].InsertBeforeTerminator(cast);
                    else { block.Insert(index, cast); index++; }
                    i.Operands[k] = cast;
                    any = true;
                }
            }
        }
        return any;
    }
}
