using FlashAttn.Compute.IR;
using FlashAttn.Compute.IR.Transformations;
using FlashAttn.Compute;
using static FlashAttn.Tests.Compute.Passes.PassTestUtilities;

namespace FlashAttn.Tests.Compute.Passes;

/// <summary>Value numbering of loads (<see cref="CommonSubexpressionElimination"/>): repeated loads of one device address in
/// one block share the first load's value, unless something between may write memory or synchronise; other spaces and
/// other blocks are left alone.</summary>
public class GlobalLoadNumberingTests
{
    /// <summary><c>return p[i] + p[i]</c> (global), with <paramref name="between"/> emitted between the two loads.</summary>
    private static Function TwoLoads(AddressSpace space, Action<IRBuilder, Value>? between = null, bool secondInNextBlock = false)
    {
        var f = new Function("twoLoads", IRType.Float32);
        var p = f.AddParameter(IRType.Pointer(space), "p");
        var i = f.AddParameter(IRType.Int64, "i");
        var b = new IRBuilder(f.AddBlock("entry"));
        var address = b.PtrAdd(p, b.Mul(i, Constant.I64(4)));
        var first = b.Load(IRType.Float32, address);
        between?.Invoke(b, address);
        if (secondInNextBlock)
        {
            var next = f.AddBlock("next");
            b.Br(next);
            b.Block = next;
        }
        var second = b.Load(IRType.Float32, address);
        b.Ret(b.Add(first, second));
        return f;
    }

    [Test]
    public void ASecondGlobalLoadOfTheSameAddressTakesTheFirstsValue()
    {
        var f = TwoLoads(AddressSpace.Global);
        Assert.That(new CommonSubexpressionElimination().Run(f), Is.True);
        var loads = f.AllInstructions.Where(i => i.Op == Opcode.Load).ToList();
        Assert.That(loads, Has.Count.EqualTo(1), IRPrinter.Format(f));
        var sum = f.AllInstructions.Single(i => i.Op == Opcode.Add && i.Type == IRType.Float32);
        Assert.That(sum.Operands, Is.EqualTo(new Value[] { loads[0], loads[0] }), IRPrinter.Format(f));
    }

    [Test]
    public void AStoreBetweenKeepsBothLoads()
    {
        var f = TwoLoads(AddressSpace.Global, (b, address) => b.Store(address, Constant.F32(1f)));
        Assert.That(new CommonSubexpressionElimination().Run(f), Is.False);
        Assert.That(Count(f, Opcode.Load), Is.EqualTo(2));
    }

    [Test]
    public void ABarrierBetweenKeepsBothLoads()
    {
        var f = TwoLoads(AddressSpace.Global, (b, _) => b.Intrinsic(IntrinsicOp.Barrier, IRType.Void));
        Assert.That(new CommonSubexpressionElimination().Run(f), Is.False);
        Assert.That(Count(f, Opcode.Load), Is.EqualTo(2));
    }

    [Test]
    public void AStoreMatrixBetweenKeepsBothLoads()
    {
        var f = TwoLoads(AddressSpace.Global, (b, _) =>
        {
            var row = b.Intrinsic(IntrinsicOp.SharedDynamic, IRType.Pointer(AddressSpace.Shared));
            b.Intrinsic(IntrinsicOp.StoreMatrix, IRType.Void, row, Constant.I32(1), Constant.I32(2), Constant.I32(3), Constant.I32(4));
        });
        Assert.That(new CommonSubexpressionElimination().Run(f), Is.False);
        Assert.That(Count(f, Opcode.Load), Is.EqualTo(2));
    }

    [TestCase(AddressSpace.Shared)]
    [TestCase(AddressSpace.Generic)]
    [TestCase(AddressSpace.Local)]
    public void OtherSpacesAreLeftAlone(AddressSpace space)
    {
        var f = TwoLoads(space);
        Assert.That(new CommonSubexpressionElimination().Run(f), Is.False);
        Assert.That(Count(f, Opcode.Load), Is.EqualTo(2));
    }

    [Test]
    public void ALoadInAnotherBlockIsLeftAlone()
    {
        var f = TwoLoads(AddressSpace.Global, secondInNextBlock: true);
        Assert.That(new CommonSubexpressionElimination().Run(f), Is.False);
        Assert.That(Count(f, Opcode.Load), Is.EqualTo(2));
    }
}
