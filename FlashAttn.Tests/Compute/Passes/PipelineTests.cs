using FlashAttn.Compute;
using FlashAttn.Compute.IR;
using FlashAttn.Compute.IR.Analysis;
using FlashAttn.Compute.IR.Transformations;
using static FlashAttn.Tests.Compute.Passes.PassTestUtilities;

namespace FlashAttn.Tests.Compute.Passes;

public class PipelineTests
{
    private static Function CountedLoop()
    {
        // int s = 0; for (int i = 0; i < 8; i++) s += i * p; return s;
        var f = new Function("counted", IRType.Int32);
        var p = f.AddParameter(IRType.Int32, "p");
        var b = new IRBuilder(f.AddBlock("entry"));
        var slotI = b.Alloca(4, 4);
        var slotS = b.Alloca(4, 4);
        b.Store(slotS, Constant.I32(0));
        ForLoop(f, b, slotI, Constant.I32(0), i => b.Cmp(CompareKind.Lt, i, Constant.I32(8)), Constant.I32(1), (bb, i) =>
        {
            var s = bb.Load(IRType.Int32, slotS);
            bb.Store(slotS, bb.Add(s, bb.Mul(i, p)));
        });
        b.Ret(b.Load(IRType.Int32, slotS));
        return f;
    }

    [Test]
    public void CountedLoopWithAccumulatorFullyUnrolls()
    {
        var f = CheckPipelinePreserves(CountedLoop, RandomInts(20, 1));
        Assert.That(HasLoops(f), Is.False, IRPrinter.Format(f));
        Assert.That(Count(f, Opcode.Alloca) + Count(f, Opcode.Load) + Count(f, Opcode.Store), Is.Zero, IRPrinter.Format(f));
        Assert.That(f.Blocks, Has.Count.EqualTo(1), IRPrinter.Format(f));
    }

    [Test]
    public void NestedCountedLoopsFullyUnroll()
    {
        static Function Build()
        {
            // s = 0; for (i = 0; i < 4; i++) for (j = 0; j < 3; j++) s += i * j + p; return s;
            var f = new Function("nested", IRType.Int32);
            var p = f.AddParameter(IRType.Int32, "p");
            var b = new IRBuilder(f.AddBlock("entry"));
            var slotI = b.Alloca(4, 4);
            var slotJ = b.Alloca(4, 4);
            var slotS = b.Alloca(4, 4);
            b.Store(slotS, Constant.I32(0));
            ForLoop(f, b, slotI, Constant.I32(0), i => b.Cmp(CompareKind.Lt, i, Constant.I32(4)), Constant.I32(1), (bi, i) =>
            {
                ForLoop(f, bi, slotJ, Constant.I32(0), j => bi.Cmp(CompareKind.Lt, j, Constant.I32(3)), Constant.I32(1), (bj, j) =>
                {
                    var s = bj.Load(IRType.Int32, slotS);
                    var ii = bj.Load(IRType.Int32, slotI);
                    bj.Store(slotS, bj.Add(s, bj.Add(bj.Mul(ii, j), p)));
                }, "inner");
            }, "outer");
            b.Ret(b.Load(IRType.Int32, slotS));
            return f;
        }
        var f = CheckPipelinePreserves(Build, RandomInts(20, 1));
        Assert.That(HasLoops(f), Is.False, IRPrinter.Format(f));
        Assert.That(Count(f, Opcode.Alloca), Is.Zero);
        Assert.That(f.Blocks, Has.Count.EqualTo(1), IRPrinter.Format(f));
    }

    [Test]
    public void LoopWithRuntimeBoundIsKept()
    {
        static Function Build()
        {
            var f = new Function("runtime", IRType.Int32);
            var n = f.AddParameter(IRType.Int32, "n");
            var b = new IRBuilder(f.AddBlock("entry"));
            var slotI = b.Alloca(4, 4);
            var slotS = b.Alloca(4, 4);
            b.Store(slotS, Constant.I32(0));
            ForLoop(f, b, slotI, Constant.I32(0), i => b.Cmp(CompareKind.Lt, i, n), Constant.I32(1), (bb, i) =>
            {
                var s = bb.Load(IRType.Int32, slotS);
                bb.Store(slotS, bb.Add(s, bb.Mul(i, i)));
            });
            b.Ret(b.Load(IRType.Int32, slotS));
            return f;
        }
        var f = CheckPipelinePreserves(Build, Enumerable.Range(-2, 25).Select(n => new[] { Val.Int(n) }));
        Assert.That(HasLoops(f), Is.True);
        Assert.That(Count(f, Opcode.Alloca), Is.Zero);
    }

    [Test]
    public void DecreasingUnsignedLoopUnrolls()
    {
        static Function Build()
        {
            // for (uint i = 10; i != 0; i -= 2) s = s * 3 + i;  (Ne test, unsigned-looking)
            var f = new Function("down", IRType.Int64);
            var p = f.AddParameter(IRType.Int64, "p");
            var b = new IRBuilder(f.AddBlock("entry"));
            var slotI = b.Alloca(4, 4);
            var slotS = b.Alloca(8, 8);
            b.Store(slotS, p);
            ForLoop(f, b, slotI, Constant.I32(10), i => b.Cmp(CompareKind.GtUn, i, Constant.I32(0)), Constant.I32(-2), (bb, i) =>
            {
                var s = bb.Load(IRType.Int64, slotS);
                bb.Store(slotS, bb.Add(bb.Mul(s, Constant.I64(3)), bb.Convert(IRType.Int64, i, unsigned: true)));
            });
            b.Ret(b.Load(IRType.Int64, slotS));
            return f;
        }
        var f = CheckPipelinePreserves(Build, RandomInts(10, 1).Select(a => new[] { Val.Int(a[0].I) }));
        Assert.That(HasLoops(f), Is.False, IRPrinter.Format(f));
    }

    [Test]
    public void DoWhileLoopWithBottomTestUnrolls()
    {
        static Function Build()
        {
            // SSA form directly: header = body with the exit test at its end (single-block loop).
            var f = new Function("dowhile", IRType.Float32);
            var p = f.AddParameter(IRType.Float32, "p");
            var entry = f.AddBlock("entry");
            var loop = f.AddBlock("loop");
            var exit = f.AddBlock("exit");
            var b = new IRBuilder(entry);
            b.Br(loop);
            b.Block = loop;
            var i = b.Phi(IRType.Int32);
            var acc = b.Phi(IRType.Float32);
            var acc2 = b.Add(b.Mul(acc, p), b.Convert(IRType.Float32, i));
            var i2 = b.Add(i, Constant.I32(3));
            b.CondBr(b.Cmp(CompareKind.Le, i2, Constant.I32(20)), loop, exit);
            i.Operands.AddRange([Constant.I32(1), i2]); i.PhiBlocks.AddRange([entry, loop]);
            acc.Operands.AddRange([Constant.F32(0), acc2]); acc.PhiBlocks.AddRange([entry, loop]);
            b.Block = exit;
            b.Ret(b.Add(acc2, Constant.F32(1)));
            return f;
        }
        var f = CheckPipelinePreserves(Build, [[Val.Flt(0.5f)], [Val.Flt(-1.25f)], [Val.Flt(3f)]]);
        Assert.That(HasLoops(f), Is.False, IRPrinter.Format(f));
    }

    [Test]
    public void StructInAllocaIsPromoted()
    {
        static Function Build()
        {
            // struct { float x; int y; int z; } s; s.x = p; s.y = q; s.z = 0; if (q > 0) s.z = q * 2; else s.x = -p; return (int)s.x + s.y + s.z;
            var f = new Function("struct", IRType.Int32);
            var p = f.AddParameter(IRType.Float32, "p");
            var q = f.AddParameter(IRType.Int32, "q");
            var entry = f.AddBlock("entry");
            var then = f.AddBlock("then");
            var otherwise = f.AddBlock("else");
            var join = f.AddBlock("join");
            var b = new IRBuilder(entry);
            var s = b.Alloca(12, 4);
            b.Store(s, p);
            b.Store(b.PtrAdd(s, Constant.I64(4)), q);
            b.Store(b.PtrAdd(b.PtrAdd(s, Constant.I64(4)), Constant.I64(4)), Constant.I32(0));
            b.CondBr(b.Cmp(CompareKind.Gt, q, Constant.I32(0)), then, otherwise);
            b.Block = then;
            b.Store(b.PtrAdd(s, Constant.I64(8)), b.Mul(q, Constant.I32(2)));
            b.Br(join);
            b.Block = otherwise;
            b.Store(s, b.Unary(Opcode.Neg, p));
            b.Br(join);
            b.Block = join;
            var x = b.Convert(IRType.Int32, b.Load(IRType.Float32, s));
            var y = b.Load(IRType.Int32, b.PtrAdd(s, Constant.I64(4)));
            var z = b.Load(IRType.Int32, b.PtrAdd(s, Constant.I64(8)));
            b.Ret(b.Add(b.Add(x, y), z));
            return f;
        }
        var random = new Random(3);
        var f = CheckPipelinePreserves(Build, Enumerable.Range(0, 20).Select(_ => new[] { Val.Flt((float)(random.NextDouble() * 100 - 50)), Val.Int(random.Next(-50, 50)) }));
        Assert.That(Count(f, Opcode.Alloca) + Count(f, Opcode.Load) + Count(f, Opcode.Store), Is.Zero, IRPrinter.Format(f));
        Assert.That(Count(f, Opcode.Phi) + Count(f, Opcode.Select), Is.GreaterThan(0)); // the merges, as phis or (IfConversion) selects
    }

    [Test]
    public void RegisterArrayWithConstantIndicesAfterUnrollingIsPromoted()
    {
        static Function Build()
        {
            // var a = LocalMemory.Allocate<float>(4); for (i < 4) a[i] = p * i; float s = 0; for (j < 4) s += a[j] * a[3 - j]; return s;
            var f = new Function("regs", IRType.Float32);
            var p = f.AddParameter(IRType.Float32, "p");
            var b = new IRBuilder(f.AddBlock("entry"));
            var slotI = b.Alloca(4, 4);
            var slotJ = b.Alloca(4, 4);
            var slotS = b.Alloca(4, 4);
            var array = b.Intrinsic(IntrinsicOp.LocalAllocate, IRType.GenericPointer, Constant.I32(4));
            array.ElementType = IRType.Float32;
            Value Element(IRBuilder bb, Value index)
                => bb.PtrAdd(array, bb.Mul(bb.Convert(IRType.Int64, index), Constant.I64(4)));
            ForLoop(f, b, slotI, Constant.I32(0), i => b.Cmp(CompareKind.Lt, i, Constant.I32(4)), Constant.I32(1), (bb, i) =>
                bb.Store(Element(bb, i), bb.Mul(p, bb.Convert(IRType.Float32, i))), "fill");
            b.Store(slotS, Constant.F32(0));
            ForLoop(f, b, slotJ, Constant.I32(0), j => b.Cmp(CompareKind.Lt, j, Constant.I32(4)), Constant.I32(1), (bb, j) =>
            {
                var product = bb.Mul(bb.Load(IRType.Float32, Element(bb, j)), bb.Load(IRType.Float32, Element(bb, bb.Sub(Constant.I32(3), j))));
                bb.Store(slotS, bb.Add(bb.Load(IRType.Float32, slotS), product));
            }, "sum");
            b.Ret(b.Load(IRType.Float32, slotS));
            return f;
        }
        var f = CheckPipelinePreserves(Build, [[Val.Flt(1.5f)], [Val.Flt(-0.25f)], [Val.Flt(7f)]]);
        Assert.That(Count(f, Opcode.Alloca) + Count(f, Opcode.Load) + Count(f, Opcode.Store) + Count(f, Opcode.Intrinsic), Is.Zero, IRPrinter.Format(f));
        Assert.That(HasLoops(f), Is.False);
    }

    [Test]
    public void DiamondWithPhisIsPreserved()
    {
        static Function Build()
        {
            var f = new Function("diamond", IRType.Int32);
            var p = f.AddParameter(IRType.Int32, "p");
            var entry = f.AddBlock("entry");
            var then = f.AddBlock("then");
            var otherwise = f.AddBlock("else");
            var join = f.AddBlock("join");
            var b = new IRBuilder(entry);
            b.CondBr(b.Cmp(CompareKind.Gt, p, Constant.I32(0)), then, otherwise);
            b.Block = then;
            var x = b.Mul(p, Constant.I32(2));
            b.Br(join);
            b.Block = otherwise;
            var y = b.Unary(Opcode.Neg, p);
            b.Br(join);
            b.Block = join;
            var phi = b.Phi(IRType.Int32);
            phi.Operands.AddRange([x, y]); phi.PhiBlocks.AddRange([then, otherwise]);
            var same = b.Phi(IRType.Int32);   // trivial phi
            same.Operands.AddRange([p, p]); same.PhiBlocks.AddRange([then, otherwise]);
            b.Ret(b.Add(b.Add(phi, Constant.I32(1)), b.Mul(same, Constant.I32(1))));
            return f;
        }
        var f = CheckPipelinePreserves(Build, RandomInts(30, 1));
        // the one real merge survives, as a phi or (IfConversion: its arms only compute values) as a select
        Assert.That(Count(f, Opcode.Phi) + Count(f, Opcode.Select), Is.EqualTo(1), IRPrinter.Format(f));
    }

    [Test]
    public void InliningWithStructReturnThroughPointer()
    {
        Function? callee = null;
        Function Build()
        {
            // void Make(out S s, int a) { s.i = a * 2; s.f = (float)a + 0.5f; }   (hidden first pointer parameter)
            callee = new Function("Make", IRType.Void);
            var result = callee.AddParameter(IRType.GenericPointer, "ret");
            var a = callee.AddParameter(IRType.Int32, "a");
            var cb = new IRBuilder(callee.AddBlock("entry"));
            var local = cb.Alloca(4, 4);   // a callee alloca, hoisted on inlining
            cb.Store(local, cb.Mul(a, Constant.I32(2)));
            cb.Store(result, cb.Load(IRType.Int32, local));
            cb.Store(cb.PtrAdd(result, Constant.I64(4)), cb.Add(cb.Convert(IRType.Float32, a), Constant.F32(0.5f)));
            cb.Ret();

            var twice = new Function("Twice", IRType.Int32);   // a callee calling nothing, called twice
            var t = twice.AddParameter(IRType.Int32, "t");
            var tb = new IRBuilder(twice.AddBlock("entry"));
            var neg = twice.AddBlock("neg");
            var pos = twice.AddBlock("pos");
            tb.CondBr(tb.Cmp(CompareKind.Lt, t, Constant.I32(0)), neg, pos);
            tb.Block = neg; tb.Ret(tb.Unary(Opcode.Neg, t));
            tb.Block = pos; tb.Ret(tb.Add(t, t));

            var f = new Function("caller", IRType.Int32);
            var p = f.AddParameter(IRType.Int32, "p");
            var b = new IRBuilder(f.AddBlock("entry"));
            var tmp = b.Alloca(8, 4);
            b.Call(callee, tmp, p);
            var x = b.Load(IRType.Int32, tmp);
            var y = b.Load(IRType.Float32, b.PtrAdd(tmp, Constant.I64(4)));
            var sum = b.Add(x, b.Convert(IRType.Int32, b.Mul(y, Constant.F32(2))));
            b.Ret(b.Add(b.Call(twice, sum), b.Call(twice, p)));
            return f;
        }
        string? calleeText = null;
        var f = CheckPipelinePreserves(() => { var r = Build(); calleeText = IRPrinter.Format(callee!); return r; }, RandomInts(30, 1));
        Assert.That(Count(f, Opcode.Call) + Count(f, Opcode.Alloca) + Count(f, Opcode.Load) + Count(f, Opcode.Store), Is.Zero, IRPrinter.Format(f));
        Assert.That(IRPrinter.Format(callee!), Is.EqualTo(calleeText), "the callee must not change");
    }

    [Test]
    public void VerifierRejectsAPhiMissingAnIncomingEdge()
    {
        var f = new Function("bad", IRType.Int32);
        var entry = f.AddBlock("entry");
        var next = f.AddBlock("next");
        var b = new IRBuilder(entry);
        b.Br(next);
        b.Block = next;
        var phi = b.Phi(IRType.Int32);
        b.Ret(phi);
        Assert.That(() => IRVerifier.Verify(f), Throws.InvalidOperationException.With.Message.Contains("predecessors"));
    }

    [Test]
    public void CseMergesPureIntrinsicsAndArithmetic()
    {
        var f = new Function("cse", IRType.Int32);
        var p = f.AddParameter(IRType.Int32, "p");
        var b = new IRBuilder(f.AddBlock("entry"));
        var t1 = b.Intrinsic(IntrinsicOp.ThreadIdxX, IRType.Int32);
        var t2 = b.Intrinsic(IntrinsicOp.ThreadIdxX, IRType.Int32);
        var a1 = b.Add(t1, p);
        var a2 = b.Add(p, t2);
        b.Ret(b.Mul(a1, a2));
        Assert.That(new CommonSubexpressionElimination().Run(f), Is.True);
        IRVerifier.Verify(f);
        Assert.That(Count(f, Opcode.Intrinsic), Is.EqualTo(1));
        Assert.That(Count(f, Opcode.Add), Is.EqualTo(1));
    }

    [Test]
    public void AddressSpacesAreInferred()
    {
        var f = new Function("kernel", IRType.Void) { IsKernel = true };
        var g = f.AddParameter(IRType.GenericPointer, "g");
        var c = f.AddParameter(IRType.Int32, "c");
        var entry = f.AddBlock("entry");
        var left = f.AddBlock("left");
        var right = f.AddBlock("right");
        var join = f.AddBlock("join");
        var b = new IRBuilder(entry);
        var shared = b.Intrinsic(IntrinsicOp.SharedAllocate, IRType.GenericPointer, Constant.I32(64));
        shared.ElementType = IRType.Float32;
        var g4 = b.PtrAdd(g, Constant.I64(4));
        b.Store(g4, Constant.F32(1));
        var s8 = b.PtrAdd(shared, Constant.I64(8));
        b.Store(s8, Constant.F32(2));
        b.CondBr(b.Cmp(CompareKind.Gt, c, Constant.I32(0)), left, right);
        b.Block = left; b.Br(join);
        b.Block = right; b.Br(join);
        b.Block = join;
        var mixed = b.Phi(IRType.GenericPointer);
        mixed.Operands.AddRange([g4, s8]); mixed.PhiBlocks.AddRange([left, right]);
        var same = b.Phi(IRType.GenericPointer);
        same.Operands.AddRange([g, g4]); same.PhiBlocks.AddRange([left, right]);
        b.Store(mixed, Constant.F32(3));
        b.Store(same, Constant.F32(4));
        b.Store(g, s8);   // a shared pointer stored to memory becomes generic
        b.Ret();
        Assert.That(new AddressSpaceInference().Run(f), Is.True);
        IRVerifier.Verify(f);
        Assert.That(g.Type, Is.EqualTo(IRType.Pointer(AddressSpace.Global)));
        Assert.That(g4.Type, Is.EqualTo(IRType.Pointer(AddressSpace.Global)));
        Assert.That(shared.Type, Is.EqualTo(IRType.Pointer(AddressSpace.Shared)));
        Assert.That(s8.Type, Is.EqualTo(IRType.Pointer(AddressSpace.Shared)));
        Assert.That(same.Type, Is.EqualTo(IRType.Pointer(AddressSpace.Global)));
        Assert.That(mixed.Type, Is.EqualTo(IRType.GenericPointer));
        Assert.That(mixed.Operands.All(o => o is Instruction { Op: Opcode.AddrSpaceCast } && o.Type == IRType.GenericPointer), Is.True, IRPrinter.Format(f));
        var lastStore = f.AllInstructions.Last(i => i.Op == Opcode.Store);
        Assert.That(lastStore.Operands[1], Is.InstanceOf<Instruction>().With.Property("Op").EqualTo(Opcode.AddrSpaceCast));
    }
}
