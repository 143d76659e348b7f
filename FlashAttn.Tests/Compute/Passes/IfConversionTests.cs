using FlashAttn.Compute.IR;
using FlashAttn.Compute.IR.Transformations;
using static FlashAttn.Tests.Compute.Passes.PassTestUtilities;

namespace FlashAttn.Tests.Compute.Passes;

public class IfConversionTests
{
    /// <summary>
    /// <c>int fetch = (p &gt; 0 &amp;&amp; q &lt; 7) ? 1 : 0; return (byte)fetch != 0 ? p : q;</c> in the shape Roslyn gives a
    /// short-circuit Bool kept in an int local: a triangle, a phi of 0 and the converted compare, a trip through a byte.
    /// </summary>
    private static Function ShortCircuit()
    {
        var f = new Function("shortCircuit", IRType.Int32);
        var p = f.AddParameter(IRType.Int32, "p");
        var q = f.AddParameter(IRType.Int32, "q");
        var entry = f.AddBlock("entry");
        var second = f.AddBlock("second");
        var join = f.AddBlock("join");
        var b = new IRBuilder(entry);
        b.CondBr(b.Cmp(CompareKind.Gt, p, Constant.I32(0)), second, join);
        b.Block = second;
        var below = b.Convert(IRType.Int32, b.Cmp(CompareKind.Lt, q, Constant.I32(7)));
        b.Br(join);
        b.Block = join;
        var fetch = b.Phi(IRType.Int32);
        fetch.Operands.AddRange([Constant.I32(0), below]); fetch.PhiBlocks.AddRange([entry, second]);
        var asByte = b.Convert(IRType.Int32, b.Convert(IRType.Int8, fetch), unsigned: true);
        b.Ret(b.Select(b.Cmp(CompareKind.Ne, asByte, Constant.I32(0)), p, q));
        return f;
    }

    [Test]
    public void ShortCircuitBoolBecomesPredicateLogic()
    {
        var f = CheckPipelinePreserves(ShortCircuit, RandomInts(40, 2, min: -10, max: 15));
        Assert.That(f.Blocks, Has.Count.EqualTo(1), IRPrinter.Format(f));
        // the Bool never becomes an integer: p > 0 ∧ q < 7 picks p or q
        Assert.That(Count(f, Opcode.Convert), Is.Zero, IRPrinter.Format(f));
        Assert.That(Count(f, Opcode.And), Is.EqualTo(1), IRPrinter.Format(f));
    }

    /// <summary>
    /// <c>return ((p &gt; 0) &amp; (q &lt; 7) | (p == q)) ? p : q;</c>: C#'s non-short-circuit Bool operators are integer
    /// operations on 0/1 values; the folds make them predicate logic again (no Bool ever becomes an integer).
    /// </summary>
    [TestCase(Opcode.And)]
    [TestCase(Opcode.Or)]
    [TestCase(Opcode.Xor)]
    public void NonShortCircuitBoolOperatorsBecomePredicateLogic(Opcode op)
    {
        Function Build()
        {
            var f = new Function("boolLogic", IRType.Int32);
            var p = f.AddParameter(IRType.Int32, "p");
            var q = f.AddParameter(IRType.Int32, "q");
            var b = new IRBuilder(f.AddBlock("entry"));
            Value AsInt(Value truth) => b.Convert(IRType.Int32, truth);
            var both = b.Binary(op, AsInt(b.Cmp(CompareKind.Gt, p, Constant.I32(0))), AsInt(b.Cmp(CompareKind.Lt, q, Constant.I32(7))));
            var any = b.Binary(Opcode.Or, both, AsInt(b.Cmp(CompareKind.Eq, p, q)));
            b.Ret(b.Select(b.Cmp(CompareKind.Ne, any, Constant.I32(0)), p, q));
            return f;
        }
        var f = CheckPipelinePreserves(Build, RandomInts(60, 2, min: -10, max: 15));
        Assert.That(Count(f, Opcode.Convert), Is.Zero, IRPrinter.Format(f));
    }

    /// <summary><c>return c ? p * 3 : q + 1;</c> as a diamond whose arms compute the values.</summary>
    private static Function Diamond(Opcode trueArm)
    {
        var f = new Function("diamond", IRType.Int32);
        var p = f.AddParameter(IRType.Int32, "p");
        var q = f.AddParameter(IRType.Int32, "q");
        var entry = f.AddBlock("entry");
        var onTrue = f.AddBlock("onTrue");
        var onFalse = f.AddBlock("onFalse");
        var join = f.AddBlock("join");
        var b = new IRBuilder(entry);
        b.CondBr(b.Cmp(CompareKind.Lt, p, q), onTrue, onFalse);
        b.Block = onTrue;
        var t = b.Binary(trueArm, p, Constant.I32(3));
        b.Br(join);
        b.Block = onFalse;
        var e = b.Add(q, Constant.I32(1));
        b.Br(join);
        b.Block = join;
        var phi = b.Phi(IRType.Int32);
        phi.Operands.AddRange([t, e]); phi.PhiBlocks.AddRange([onTrue, onFalse]);
        b.Ret(phi);
        return f;
    }

    [Test]
    public void DiamondOfArithmeticBecomesSelect()
    {
        var f = CheckPassPreserves(new IfConversion(), () => Diamond(Opcode.Mul), RandomInts(40, 2));
        new SimplifyCfg().Run(f);
        Assert.That(f.Blocks, Has.Count.EqualTo(1), IRPrinter.Format(f));
        Assert.That(Count(f, Opcode.Select), Is.EqualTo(1), IRPrinter.Format(f));
    }

    [Test]
    public void IntegerDivisionStaysBehindItsBranch()
    {
        // p / 3 cannot trap, but a division in general can (by zero): it is never run speculatively
        var f = Diamond(Opcode.Div);
        Assert.That(new IfConversion().Run(f), Is.False, IRPrinter.Format(f));
        Assert.That(Count(f, Opcode.CondBr), Is.EqualTo(1));
    }

    [Test]
    public void LoadsStayBehindTheirBranch()
    {
        // if (p > 0) x = *slot; else x = 0 — the load may be the guarded one (an index checked by the branch)
        var f = new Function("guardedLoad", IRType.Int32);
        var p = f.AddParameter(IRType.Int32, "p");
        var entry = f.AddBlock("entry");
        var load = f.AddBlock("load");
        var join = f.AddBlock("join");
        var b = new IRBuilder(entry);
        var slot = b.Alloca(4, 4);
        b.Store(slot, p);
        b.CondBr(b.Cmp(CompareKind.Gt, p, Constant.I32(0)), load, join);
        b.Block = load;
        var value = b.Load(IRType.Int32, slot);
        b.Br(join);
        b.Block = join;
        var phi = b.Phi(IRType.Int32);
        phi.Operands.AddRange([Constant.I32(0), value]); phi.PhiBlocks.AddRange([entry, load]);
        b.Ret(phi);
        Assert.That(new IfConversion().Run(f), Is.False, IRPrinter.Format(f));
    }
}
