using FlashAttn.Compute;
using FlashAttn.Compute.IR;
using FlashAttn.Compute.IR.Transformations;
using static FlashAttn.Tests.Compute.Passes.PassTestUtilities;

namespace FlashAttn.Tests.Compute.Passes;

public class ConstantFoldingTests
{
    private static readonly IRType[] IntTypes = [IRType.Int8, IRType.Int16, IRType.Int32, IRType.Int64];
    private static readonly IRType[] FloatTypes = [IRType.Float16, IRType.Float32, IRType.Float64];

    private static IEnumerable<Constant> Samples(IRType type)
    {
        if (type.IsFloat)
            foreach (var d in new[] { 0.0, -0.0, 1.0, -1.5, 2.75, 1e10, -3e9, 65504, 0.1, double.NaN, double.PositiveInfinity, 300.7, -129.9 })
                yield return Constant.FloatOf(type, d);
        else
        {
            long max = type.Size >= 8 ? long.MaxValue : (1L << (type.Size * 8 - 1)) - 1;
            foreach (var v in new[] { 0L, 1, -1, 2, 7, -8, 31, 33, 65, max, -max - 1, 12345678901 })
                yield return Constant.Int(type, v);
        }
    }

    /// <summary>Folds op(a, b) on constants and compares with the evaluator running op on parameters.</summary>
    private static void Check(Func<IRBuilder, Value[], Value> op, IRType resultType, params Constant[] operands)
    {
        var withParameters = new Function("p", resultType);
        var parameters = operands.Select(o => (Value)withParameters.AddParameter(o.Type)).ToArray();
        var pb = new IRBuilder(withParameters.AddBlock("entry"));
        pb.Ret(op(pb, parameters));
        Val expected;
        try { expected = new TinyEvaluator().Run(withParameters, operands.Select(ToVal).ToArray()); }
        catch (ArithmeticException) { expected = default; }   // division by zero / overflow: must stay unfolded
        bool traps = false;
        try { new TinyEvaluator().Run(withParameters, operands.Select(ToVal).ToArray()); } catch (ArithmeticException) { traps = true; }

        var folded = new Function("c", resultType);
        var cb = new IRBuilder(folded.AddBlock("entry"));
        cb.Ret(op(cb, operands));
        new ConstantFolding().Run(folded);
        var result = folded.Entry.Terminator!.Operands[0];
        string what = $"{IRPrinter.Format(withParameters)} on [{string.Join(", ", operands.Select(o => o.ToString()))}]";
        if (traps) { Assert.That(result, Is.Not.InstanceOf<Constant>(), "trapping operation folded: " + what); return; }
        Assert.That(result, Is.InstanceOf<Constant>(), "not folded: " + what);
        var actual = ToVal((Constant)result);
        Assert.That(actual.SameAs(expected) || (double.IsNaN(actual.F) && double.IsNaN(expected.F)), Is.True,
            $"{what}: folded {actual}, evaluated {expected}");
    }

    private static Val ToVal(Constant c) => c.Type.IsFloat ? Val.Flt(c.Float) : Val.Int(c.Bits);

    [Test]
    public void IntegerBinaryOperationsFoldLikeCSharp()
    {
        Opcode[] ops = [Opcode.Add, Opcode.Sub, Opcode.Mul, Opcode.Div, Opcode.DivUn, Opcode.Rem, Opcode.RemUn,
            Opcode.And, Opcode.Or, Opcode.Xor, Opcode.Shl, Opcode.Shr, Opcode.ShrUn];
        foreach (var type in IntTypes)
            foreach (var op in ops)
                foreach (var a in Samples(type))
                    foreach (var b in Samples(type))
                    {
                        if (type.Size < 4 && op is Opcode.Div or Opcode.Rem && a.Bits == (type.Size == 1 ? -128 : -32768) && b.Bits == -1)
                            continue;   // narrow types: C# would compute in int; the IR op is ill-defined there
                        Check((bb, v) => bb.Binary(op, v[0], v[1]), type, a, b);
                    }
    }

    [Test]
    public void FloatOperationsFoldInTheTypesPrecision()
    {
        Opcode[] ops = [Opcode.Add, Opcode.Sub, Opcode.Mul, Opcode.Div, Opcode.Rem];
        foreach (var type in FloatTypes)
        {
            foreach (var op in ops)
                foreach (var a in Samples(type))
                    foreach (var b in Samples(type))
                        Check((bb, v) => bb.Binary(op, v[0], v[1]), type, a, b);
            foreach (var a in Samples(type)) Check((bb, v) => bb.Unary(Opcode.Neg, v[0]), type, a);
        }
    }

    [Test]
    public void ComparisonsFoldForEveryKind()
    {
        foreach (var type in IntTypes.Concat(FloatTypes))
            foreach (var kind in Enum.GetValues<CompareKind>())
                foreach (var a in Samples(type))
                    foreach (var b in Samples(type).Take(6))
                        Check((bb, v) => bb.Cmp(kind, v[0], v[1]), IRType.Bool, a, b);
    }

    [Test]
    public void ConversionsFoldBetweenEveryPairOfTypes()
    {
        foreach (var from in IntTypes.Concat(FloatTypes))
            foreach (var to in IntTypes.Concat(FloatTypes))
                foreach (bool unsigned in new[] { false, true })
                    foreach (var a in Samples(from))
                        Check((bb, v) => bb.Convert(to, v[0], unsigned), to, a);
        foreach (var to in IntTypes)
            Check((bb, v) => bb.Convert(to, v[0]), to, Constant.Bool(true));
    }

    [Test]
    public void UnaryAndSelectFold()
    {
        foreach (var type in IntTypes)
            foreach (var a in Samples(type))
            {
                Check((bb, v) => bb.Unary(Opcode.Not, v[0]), type, a);
                Check((bb, v) => bb.Unary(Opcode.Neg, v[0]), type, a);
                Check((bb, v) => bb.Select(v[0], v[1], v[2]), type, Constant.Bool(a.Bits > 0), a, Constant.Int(type, 5));
            }
        Check((bb, v) => bb.Unary(Opcode.Not, v[0]), IRType.Bool, Constant.Bool(true));
        Check((bb, v) => bb.Unary(Opcode.Not, v[0]), IRType.Bool, Constant.Bool(false));
    }

    [Test]
    public void AlgebraicIdentitiesSimplify()
    {
        var f = new Function("alg", IRType.Int32);
        var x = f.AddParameter(IRType.Int32, "x");
        var c = f.AddParameter(IRType.Bool, "c");
        var p = f.AddParameter(IRType.GenericPointer, "p");
        var b = new IRBuilder(f.AddBlock("entry"));
        var v = b.Add(x, Constant.I32(0));
        v = b.Mul(v, Constant.I32(1));
        v = b.Add(v, b.Mul(x, Constant.I32(0)));
        v = b.Add(v, b.Sub(x, x));
        v = b.Convert(IRType.Int32, b.Convert(IRType.Int64, v));
        var asInt = b.Convert(IRType.Int32, c);
        var back = b.Cmp(CompareKind.Ne, asInt, Constant.I32(0));
        var negated = b.Cmp(CompareKind.Eq, asInt, Constant.I32(0));
        var chosen = b.Select(back, v, b.Select(negated, Constant.I32(7), v));
        var q = b.PtrAdd(b.PtrAdd(b.PtrAdd(p, Constant.I64(0)), Constant.I64(8)), Constant.I64(4));
        b.Store(q, chosen);
        b.Ret(chosen);
        new ConstantFolding().Run(f);
        new DeadCodeElimination().Run(f);
        string text = IRPrinter.Format(f);
        Assert.That(Count(f, Opcode.Add) + Count(f, Opcode.Mul) + Count(f, Opcode.Sub) + Count(f, Opcode.Convert), Is.Zero, text);
        var outerSelect = (Instruction)f.Entry.Terminator!.Operands[0];
        Assert.That(outerSelect.Operands[0], Is.SameAs(c), text);
        var ptrAdd = f.AllInstructions.Single(i => i.Op == Opcode.PtrAdd);
        Assert.That(ptrAdd.Operands[0], Is.SameAs(p), text);
        Assert.That(((Constant)ptrAdd.Operands[1]).Bits, Is.EqualTo(12), text);
        Assert.That(f.AllInstructions.Any(i => i.Op == Opcode.Not), Is.True, text);
    }

    [Test]
    public void BranchOnConstantFoldsAndFixesPhis()
    {
        var f = new Function("br", IRType.Int32);
        var x = f.AddParameter(IRType.Int32, "x");
        var entry = f.AddBlock("entry");
        var a = f.AddBlock("a");
        var join = f.AddBlock("join");
        var b = new IRBuilder(entry);
        b.CondBr(b.Cmp(CompareKind.Lt, Constant.I32(3), Constant.I32(2)), a, join);
        b.Block = a; b.Br(join);
        b.Block = join;
        var phi = b.Phi(IRType.Int32);
        phi.Operands.AddRange([x, Constant.I32(1)]); phi.PhiBlocks.AddRange([entry, a]);
        b.Ret(phi);
        Assert.That(new ConstantFolding().Run(f), Is.True);
        new SimplifyCfg().Run(f);
        FlashAttn.Compute.IR.Analysis.IRVerifier.Verify(f);
        Assert.That(f.Blocks, Has.Count.EqualTo(1), IRPrinter.Format(f));
        Assert.That(f.Entry.Terminator!.Operands[0], Is.SameAs(x));
    }

    /// <summary>Signed integer Min/Max of constants fold as Math.Min/Max (a tile size computed with them must be a constant for a
    /// register array's length); min(x, x) is x; an unsigned one and float ones stay.</summary>
    [Test]
    public void IntegerMinAndMaxOfConstantsFold()
    {
        Value FoldedResult(IntrinsicOp op, IRType type, Value a, Value b, bool unsigned = false)
        {
            var f = new Function("m", type);
            var builder = new IRBuilder(f.AddBlock("entry"));
            var call = builder.Intrinsic(op, type, a, b);
            call.Unsigned = unsigned;
            builder.Ret(call);
            new ConstantFolding().Run(f);
            return f.Entry.Terminator!.Operands[0];
        }
        foreach (var type in IntTypes)
            foreach (var a in Samples(type))
                foreach (var b in Samples(type))
                {
                    Assert.That(((Constant)FoldedResult(IntrinsicOp.Min, type, a, b)).Bits, Is.EqualTo(Math.Min(a.Bits, b.Bits)), $"min {a} {b}");
                    Assert.That(((Constant)FoldedResult(IntrinsicOp.Max, type, a, b)).Bits, Is.EqualTo(Math.Max(a.Bits, b.Bits)), $"max {a} {b}");
                }
        var parameters = new Function("p", IRType.Int32);
        var x = parameters.AddParameter(IRType.Int32, "x");
        Assert.Multiple(() =>
        {
            Assert.That(FoldedResult(IntrinsicOp.Min, IRType.Int32, x, x), Is.SameAs(x));
            Assert.That(FoldedResult(IntrinsicOp.Min, IRType.Int32, Constant.I32(-1), Constant.I32(2), unsigned: true), Is.Not.InstanceOf<Constant>());
            Assert.That(FoldedResult(IntrinsicOp.Min, IRType.Float32, Constant.FloatOf(IRType.Float32, 1), Constant.FloatOf(IRType.Float32, 2)),
                Is.Not.InstanceOf<Constant>());
        });
    }
}
