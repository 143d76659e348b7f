using System.Text.RegularExpressions;
using FlashAttn.Compute;
using FlashAttn.Compute.Backends.Ptx;
using FlashAttn.Compute.IR;

namespace FlashAttn.Tests.Compute.Ptx;

public class PtxBackendTests
{
    private static Instruction GlobalIndex(KernelUnderTest k)
    {
        var tid = k.Intrinsic(IntrinsicOp.ThreadIdxX, IRType.Int32);
        var group = k.Intrinsic(IntrinsicOp.GroupIdxX, IRType.Int32);
        var dim = k.Intrinsic(IntrinsicOp.GroupDimX, IRType.Int32);
        return k.B.Add(k.B.Mul(group, dim), tid);
    }

    [Test]
    public void VectorAdd()
    {
        var k = new KernelUnderTest("VectorAdd");
        var a = k.Param(KernelUnderTest.Global, "a");
        var bp = k.Param(KernelUnderTest.Global, "b");
        var c = k.Param(KernelUnderTest.Global, "c");
        var n = k.Param(IRType.Int32, "n");
        var body = k.Function.AddBlock("body");
        var exit = k.Function.AddBlock("exit");
        var index = GlobalIndex(k);
        k.B.CondBr(k.B.Cmp(CompareKind.Lt, index, n), body, exit);
        k.B.Block = body;
        var x = k.B.Load(IRType.Float32, k.Element(a, index, 4));
        var y = k.B.Load(IRType.Float32, k.Element(bp, index, 4));
        k.B.Store(k.Element(c, index, 4), k.B.Add(x, y));
        k.B.Br(exit);
        k.B.Block = exit;
        k.B.Ret();

        var module = k.Compile();
        string text = module.Text;
        Assert.That(module.EntryName, Is.EqualTo("VectorAdd"));
        Assert.That(module.StaticSharedBytes, Is.Zero);
        Assert.That(text, Does.Contain(".version 8.1").And.Contain(".target sm_90"));
        Assert.That(text, Does.Contain(".param .u64 VectorAdd_param_0").And.Contain(".param .u32 VectorAdd_param_3"));
        Assert.That(text, Does.Contain("ld.param.u64").And.Contain("cvta.to.global.u64").And.Contain("ld.param.u32"));
        Assert.That(text, Does.Contain("mov.u32 %r").And.Contain("%tid.x").And.Contain("%ctaid.x").And.Contain("%ntid.x"));
        Assert.That(text, Does.Contain("mul.lo.s32").And.Contain("setp.lt.s32").And.Contain("cvt.s64.s32").And.Contain("mul.lo.s64"));
        Assert.That(text, Does.Contain("ld.global.f32").And.Contain("st.global.f32").And.Contain("add.f32"));
        Assert.That(text, Does.Contain("ret;"));
        Assert.That(text, Does.Not.Contain(".local").And.Not.Contain(".shared").And.Not.Contain("%fd").And.Not.Contain("%h"));
        Assert.That(text, Does.Contain(".reg .pred %p<").And.Contain(".reg .b32 %r<").And.Contain(".reg .b64 %rd<").And.Contain(".reg .f32 %f<"));
        Assert.That(text, Does.Match(@"@%p\d+ bra \$L__BB1;"));
    }

    [Test]
    public void NoContractionOptionWritesRoundedArithmetic()
    {
        var k = new KernelUnderTest("Rn");
        var p = k.Param(KernelUnderTest.Global, "p");
        var x = k.B.Load(IRType.Float32, p);
        k.B.Store(p, k.B.Add(k.B.Mul(x, x), x));
        k.B.Ret();
        string text = k.Compile(options: new PtxEmitOptions(AllowFloatContraction: false)).Text;
        Assert.That(text, Does.Contain("mul.rn.f32").And.Contain("add.rn.f32"));
    }

    [Test]
    public void SwapPhisInALoopUseParallelCopiesOnTheSplitBackEdge()
    {
        var k = new KernelUnderTest("Swap");
        var output = k.Param(KernelUnderTest.Global, "out");
        var n = k.Param(IRType.Int32, "n");
        var header = k.Function.AddBlock("loop");
        var exit = k.Function.AddBlock("exit");
        k.B.Br(header);
        k.B.Block = header;
        var a = k.B.Phi(IRType.Int32);
        var bb = k.B.Phi(IRType.Int32);
        var i = k.B.Phi(IRType.Int32);
        var next = k.B.Add(i, Constant.I32(1));
        k.B.CondBr(k.B.Cmp(CompareKind.Lt, next, n), header, exit);
        void Incoming(Instruction phi, BasicBlock from, Value v) { phi.Operands.Add(v); phi.PhiBlocks.Add(from); }
        Incoming(a, k.Entry, Constant.I32(1));
        Incoming(bb, k.Entry, Constant.I32(2));
        Incoming(i, k.Entry, Constant.I32(0));
        Incoming(a, header, bb);
        Incoming(bb, header, a);
        Incoming(i, header, next);
        k.B.Block = exit;
        k.B.Store(output, a, 4);
        k.B.Store(k.B.PtrAdd(output, Constant.I64(4)), bb, 4);
        k.B.Ret();

        var module = k.Compile();
        string text = module.Text;
        // The back edge leaves a block with two successors for a block with two predecessors: split.
        Assert.That(text, Does.Contain("$L__E0:"));
        Assert.That(text, Does.Match(@"@%p\d+ bra \$L__E0;"));
        var stores = Regex.Matches(text, @"st\.global\.u32 \[%rd\d+(?:\+4)?\], (%r\d+);");
        Assert.That(stores, Has.Count.EqualTo(2));
        string ra = stores[0].Groups[1].Value, rb = stores[1].Groups[1].Value;
        var state = PtxChecker.SimulateMoves(module, "$L__E0", [ra, rb]);
        Assert.That(state[ra], Is.EqualTo(rb), "a must receive the old b");
        Assert.That(state[rb], Is.EqualTo(ra), "b must receive the old a");
        // The entry edge initialises the phis with immediates.
        Assert.That(text, Does.Contain($"mov.b32 {ra}, 1;").And.Contain($"mov.b32 {rb}, 2;"));
    }

    /// <summary>A diamond whose one arm redefines x and whose other passes it through: the phi shares x's register
    /// (PtxPhiCoalescing), so the pass-through edge copies nothing and the other arm copies its value in. When x is still
    /// needed after the join, they cannot share, and both edges copy.</summary>
    [TestCase(false)]
    [TestCase(true)]
    public void APhiSharesTheRegisterOfTheValueThatPassesThrough(bool xUsedAfterTheJoin)
    {
        var k = new KernelUnderTest("PassThrough" + (xUsedAfterTheJoin ? "Live" : ""));
        var output = k.Param(KernelUnderTest.Global, "out");
        var n = k.Param(IRType.Int32, "n");
        var redefine = k.Function.AddBlock("redefine");
        var join = k.Function.AddBlock("join");
        var x = k.B.Mul(n, Constant.I32(3));
        k.B.CondBr(k.B.Cmp(CompareKind.Lt, n, Constant.I32(10)), redefine, join);
        k.B.Block = redefine;
        var y = k.B.Add(x, Constant.I32(7));
        k.B.Br(join);
        k.B.Block = join;
        var phi = k.B.Phi(IRType.Int32);
        phi.Operands.Add(x); phi.PhiBlocks.Add(k.Entry);
        phi.Operands.Add(y); phi.PhiBlocks.Add(redefine);
        k.B.Store(output, phi, 4);
        if (xUsedAfterTheJoin) k.B.Store(k.B.PtrAdd(output, Constant.I64(4)), x, 4);
        k.B.Ret();

        string text = k.Compile(options: new PtxEmitOptions { CoalescePhis = true }).Text;
        string xRegister = Regex.Match(text, @"mul\.lo\.s32 (%r\d+), ").Groups[1].Value;
        string stored = Regex.Match(text, @"st\.global\.u32 \[%rd\d+\], (%r\d+);").Groups[1].Value;
        var moves = Regex.Matches(text, @"mov\.b32 %r\d+, %r\d+;");
        if (xUsedAfterTheJoin)
        {
            Assert.That(stored, Is.Not.EqualTo(xRegister), "x is live past the join: the phi needs its own register");
            Assert.That(moves, Has.Count.EqualTo(2), "a copy on each edge");
        }
        else
        {
            Assert.That(stored, Is.EqualTo(xRegister), "the phi lives in x's register");
            Assert.That(moves, Has.Count.EqualTo(1), "only the arm that redefines it copies");
            Assert.That(moves[0].Value, Does.StartWith($"mov.b32 {xRegister}, "));
        }
        Assert.That(PtxEmitOptions.Default.CoalescePhis, Is.EqualTo(PtxEmitOptions.CoalescePhisDefault), "the defaults read the variable");
        // the switch, and a kernel's PhiCopies.KeepAll(): every edge copies
        string off = PtxBackend.Emit(k.Function, PtxTarget.Default, new PtxEmitOptions { CoalescePhis = false }).Text;
        Assert.That(Regex.Matches(off, @"mov\.b32 %r\d+, %r\d+;"), Has.Count.EqualTo(2));
        k.Entry.Insert(0, new Instruction(Opcode.Intrinsic, IRType.Void) { Intrinsic = IntrinsicOp.KeepPhiCopies });
        string kept = k.Compile(options: new PtxEmitOptions { CoalescePhis = true }).Text;
        Assert.That(Regex.Matches(kept, @"mov\.b32 %r\d+, %r\d+;"), Has.Count.EqualTo(2));
    }

    [Test]
    public void SharedMemoryAndBarrier()
    {
        var k = new KernelUnderTest("Reverse");
        var data = k.Param(KernelUnderTest.Global, "data");
        var tile = k.Intrinsic(IntrinsicOp.SharedAllocate, KernelUnderTest.Shared, Constant.I32(256));
        tile.ElementType = IRType.Float32;
        var tid = k.Intrinsic(IntrinsicOp.ThreadIdxX, IRType.Int32);
        k.B.Store(k.Element(tile, tid, 4), k.B.Load(IRType.Float32, k.Element(data, tid, 4)));
        k.Intrinsic(IntrinsicOp.Barrier, IRType.Void);
        var mirrored = k.B.Sub(Constant.I32(255), tid);
        k.B.Store(k.Element(data, tid, 4), k.B.Load(IRType.Float32, k.Element(tile, mirrored, 4)));
        var dynamic = k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared);
        var dynamicBytes = k.Intrinsic(IntrinsicOp.SharedDynamic, IRType.Int32);
        k.B.Store(dynamic, dynamicBytes);
        k.B.Ret();

        var module = k.Compile();
        string text = module.Text;
        Assert.That(module.StaticSharedBytes, Is.EqualTo(1024));
        Assert.That(text, Does.Contain(".shared .align 16 .b8 __shared_0[1024];"));
        Assert.That(text, Does.Contain(".extern .shared .align 16 .b8 __dynamic_shared[];"));
        Assert.That(text, Does.Match(@"mov\.u64 %rd\d+, __shared_0;"));
        Assert.That(text, Does.Match(@"mov\.u64 %rd\d+, __dynamic_shared;"));
        Assert.That(text, Does.Contain("%dynamic_smem_size"));
        Assert.That(text, Does.Contain("st.shared.f32").And.Contain("ld.shared.f32").And.Contain("st.shared.u32"));
        Assert.That(text, Does.Contain("bar.sync 0;"));
        Assert.That(text, Does.Not.Contain(".local"));
    }

    [Test]
    public void GenericSharedPointerIsConverted()
    {
        var k = new KernelUnderTest("GenericShared");
        var tile = k.Intrinsic(IntrinsicOp.SharedAllocate, IRType.GenericPointer, Constant.I32(8));
        tile.ElementType = IRType.Int32;
        k.B.Store(tile, Constant.I32(5));
        var back = k.B.Block.Append(new Instruction(Opcode.AddrSpaceCast, KernelUnderTest.Shared, tile));
        k.B.Store(back, Constant.I32(6));
        k.B.Ret();
        string text = k.Compile().Text;
        Assert.That(text, Does.Contain("cvta.shared.u64").And.Contain("cvta.to.shared.u64"));
        Assert.That(text, Does.Match(@"\sst\.u32 \[%rd\d+\], %r\d+;"), "generic store");
    }

    [Test]
    public void Shuffles()
    {
        var k = new KernelUnderTest("Shuffles");
        var p = k.Param(KernelUnderTest.Global, "p");
        var vi = k.B.Load(IRType.Int32, p);
        var vf = k.B.Load(IRType.Float32, k.B.PtrAdd(p, Constant.I64(64)));
        var lane = k.Intrinsic(IntrinsicOp.LaneIdx, IRType.Int32);
        var s1 = k.Intrinsic(IntrinsicOp.ShuffleXor, IRType.Int32, vi, Constant.I32(16));
        var s2 = k.Intrinsic(IntrinsicOp.ShuffleUp, IRType.Int32, s1, Constant.I32(1));
        var s3 = k.Intrinsic(IntrinsicOp.ShuffleDown, IRType.Int32, s2, lane);
        var s4 = k.Intrinsic(IntrinsicOp.ShuffleIdx, IRType.Float32, vf, Constant.I32(0));
        k.Intrinsic(IntrinsicOp.WarpBarrier, IRType.Void);
        k.B.Store(p, s3);
        k.B.Store(k.B.PtrAdd(p, Constant.I64(64)), s4);
        k.B.Ret();
        string text = k.Compile().Text;
        Assert.That(text, Does.Match(@"shfl\.sync\.bfly\.b32 %r\d+, %r\d+, 16, 31, -1;"));
        Assert.That(text, Does.Match(@"shfl\.sync\.up\.b32 %r\d+, %r\d+, 1, 0, -1;"));
        Assert.That(text, Does.Match(@"shfl\.sync\.down\.b32 %r\d+, %r\d+, %r\d+, 31, -1;"));
        Assert.That(text, Does.Match(@"shfl\.sync\.idx\.b32 %r\d+, %r\d+, 0, 31, -1;"));
        Assert.That(text, Does.Contain("%laneid").And.Contain("bar.warp.sync -1;"));
    }

    /// <summary>Integer warp reductions: one redux.sync from sm_80 on (its result in a uniform register), a butterfly of five
    /// shuffles before.</summary>
    [TestCase(80, true)]
    [TestCase(75, false)]
    public void WarpReductionsAreReduxFromSm80(int sm, bool redux)
    {
        var k = new KernelUnderTest("WarpReductions");
        var p = k.Param(KernelUnderTest.Global, "p");
        var v = k.B.Load(IRType.Int32, p);
        var sum = k.Intrinsic(IntrinsicOp.WarpReduceAdd, IRType.Int32, v);
        var min = k.Intrinsic(IntrinsicOp.WarpReduceMin, IRType.Int32, sum);
        var max = k.Intrinsic(IntrinsicOp.WarpReduceMax, IRType.Int32, min);
        var or = k.Intrinsic(IntrinsicOp.WarpReduceOr, IRType.Int32, max);
        k.B.Store(p, or);
        k.B.Ret();
        string text = k.Compile(new PtxTarget(7, 0, sm)).Text;
        foreach (string op in new[] { "add", "min", "max" })
            if (redux) Assert.That(text, Does.Match($@"redux\.sync\.{op}\.s32 %r\d+, %r\d+, -1;"));
            else Assert.That(text, Does.Match($@"\s{op}\.s32 %r\d+, %r\d+, %r\d+;"));
        if (redux) Assert.That(text, Does.Match(@"redux\.sync\.or\.b32 %r\d+, %r\d+, -1;"));
        else Assert.That(text, Does.Match(@"\sor\.b32 %r\d+, %r\d+, %r\d+;"));
        Assert.That(text.Split("shfl.sync.bfly").Length - 1, Is.EqualTo(redux ? 0 : 20));
    }

    /// <summary>A ballot is one vote.sync.ballot; the bit counts are popc, clz, and brev then clz for the trailing zeros.</summary>
    [Test]
    public void BallotAndBitCounts()
    {
        var k = new KernelUnderTest("BallotAndBitCounts");
        var p = k.Param(KernelUnderTest.Global, "p");
        var v = k.B.Load(IRType.Int32, p);
        var ballot = k.Intrinsic(IntrinsicOp.WarpBallot, IRType.Int32, k.B.Cmp(CompareKind.Ne, v, Constant.I32(0)));
        var trailing = k.Intrinsic(IntrinsicOp.TrailingZeroCount, IRType.Int32, ballot);
        var leading = k.Intrinsic(IntrinsicOp.LeadingZeroCount, IRType.Int32, trailing);
        k.B.Store(p, k.Intrinsic(IntrinsicOp.PopCount, IRType.Int32, leading));
        k.B.Ret();
        string text = k.Compile(PtxTarget.Default).Text;
        Assert.That(text, Does.Match(@"vote\.sync\.ballot\.b32 %r\d+, %p\d+, -1;"));
        Assert.That(text, Does.Match(@"brev\.b32 (%r\d+), %r\d+;\s+clz\.b32 %r\d+, \1;"));
        Assert.That(text, Does.Match(@"popc\.b32 %r\d+, %r\d+;"));
    }

    [Test]
    public void Atomics()
    {
        var k = new KernelUnderTest("Atomics");
        var p = k.Param(KernelUnderTest.Global, "p");
        var tile = k.Intrinsic(IntrinsicOp.SharedAllocate, KernelUnderTest.Shared, Constant.I32(4));
        tile.ElementType = IRType.Float32;
        var r1 = k.Intrinsic(IntrinsicOp.AtomicAdd, IRType.Int32, p, Constant.I32(1));
        var r2 = k.Intrinsic(IntrinsicOp.AtomicAdd, IRType.Float32, tile, Constant.F32(1.5f));
        var r3 = k.Intrinsic(IntrinsicOp.AtomicMax, IRType.Int32, k.B.PtrAdd(p, Constant.I64(4)), r1);
        var r4 = k.Intrinsic(IntrinsicOp.AtomicMin, IRType.Int32, k.B.PtrAdd(p, Constant.I64(8)), r3);
        var r5 = k.Intrinsic(IntrinsicOp.AtomicExchange, IRType.Int32, k.B.PtrAdd(p, Constant.I64(12)), r4);
        var r6 = k.Intrinsic(IntrinsicOp.AtomicCompareExchange, IRType.Int32, k.B.PtrAdd(p, Constant.I64(16)), r5, Constant.I32(7));
        var generic = k.Intrinsic(IntrinsicOp.AtomicAdd, IRType.Int32, k.B.Block.Append(new Instruction(Opcode.AddrSpaceCast, IRType.GenericPointer, p)), r6);
        k.B.Store(k.B.PtrAdd(p, Constant.I64(20)), generic);
        k.B.Store(k.B.PtrAdd(p, Constant.I64(24)), r2);
        k.B.Ret();
        string text = k.Compile().Text;
        Assert.That(text, Does.Match(@"atom\.global\.add\.u32 %r\d+, \[%rd\d+\], %r\d+;"));
        Assert.That(text, Does.Match(@"atom\.shared\.add\.f32 %f\d+, \[%rd\d+\], %f\d+;"));
        Assert.That(text, Does.Match(@"atom\.global\.max\.s32 %r\d+, \[%rd\d+\+4\], %r\d+;"));
        Assert.That(text, Does.Contain("atom.global.min.s32").And.Contain("atom.global.exch.b32"));
        Assert.That(text, Does.Match(@"atom\.global\.cas\.b32 %r\d+, \[%rd\d+\+16\], %r\d+, %r\d+;"));
        Assert.That(text, Does.Match(@"atom\.add\.u32 %r\d+, \[%rd\d+\]"), "generic atomic");
        Assert.That(text, Does.Contain("cvta.global.u64"));
    }

    [Test]
    public void AtomicsOnLocalMemoryAreRejected()
    {
        var k = new KernelUnderTest("LocalAtomic");
        var slot = k.B.Alloca(4, 4);
        k.Intrinsic(IntrinsicOp.AtomicAdd, IRType.Int32, slot, Constant.I32(1));
        k.B.Ret();
        Assert.Throws<CompilationException>(() => PtxBackend.Emit(k.Function, PtxTarget.Default));
    }

    private static readonly IRType[] s_scalars =
        [IRType.Bool, IRType.Int8, IRType.Int16, IRType.Int32, IRType.Int64, IRType.Float16, IRType.BFloat16, IRType.Float32, IRType.Float64];

    [Test]
    public void EveryConversionPairCompiles([Values] bool unsigned)
    {
        var k = new KernelUnderTest(unsigned ? "ConvertUnsigned" : "ConvertSigned");
        var output = k.Param(KernelUnderTest.Global, "out");
        long offset = 0;
        foreach (var from in s_scalars)
        {
            var source = k.Param(from, "x" + from);
            foreach (var to in s_scalars)
            {
                if (from == to) continue;
                var converted = k.B.Convert(to, source, unsigned);
                k.B.Store(k.B.PtrAdd(output, Constant.I64(offset)), converted);
                offset += 8;
            }
        }
        k.B.Ret();
        string text = k.Compile().Text;
        string s = unsigned ? "u" : "s";
        Assert.That(text, Does.Contain($"cvt.rn.f32.{s}32").And.Contain($"cvt.rzi.{s}32.f32").And.Contain($"cvt.rn.f64.{s}64"));
        Assert.That(text, Does.Contain($"cvt.{s}64.{s}32").And.Contain("cvt.u32.u64").And.Contain($"cvt.{s}32.{s}8"));
        Assert.That(text, Does.Contain("cvt.rn.f16.f32").And.Contain("cvt.f32.f16").And.Contain("cvt.rn.bf16.f32").And.Contain("cvt.f32.bf16"));
        Assert.That(text, Does.Contain("cvt.f64.f32").And.Contain("cvt.rn.f32.f64").And.Contain("cvt.rn.f16.f64"));
        Assert.That(text, Does.Match(@"selp\.u32 %r\d+, 1, 0, %p\d+;"));
        Assert.That(text, Does.Match(@"selp\.f32 %f\d+, 0f3F800000, 0f00000000, %p\d+;"));
        Assert.That(text, Does.Match(@"setp\.ne\.b32 %p\d+, %r\d+, 0;"));
        Assert.That(text, Does.Contain(".param .u8").And.Contain(".param .b16").And.Contain(".param .f64"));
        Assert.That(text, Does.Contain("st.global.u8").And.Contain("st.global.b16").And.Contain("st.global.u16"));
        // Every cvt between floats that narrows has a rounding modifier; widening has none.
        foreach (var line in PtxChecker.Instructions(new PtxModule(text, "x", 0)).Where(l => l.StartsWith("cvt.", StringComparison.Ordinal)))
        {
            var m = Regex.Match(line, @"^cvt((?:\.\w+)*?)\.(\w\w?\d+)\.(\w\w?\d+) ");
            Assert.That(m.Success, Is.True, line);
            string dst = m.Groups[2].Value, src = m.Groups[3].Value, modifiers = m.Groups[1].Value;
            bool dstFloat = dst.StartsWith('f') || dst.StartsWith("bf", StringComparison.Ordinal);
            bool srcFloat = src.StartsWith('f') || src.StartsWith("bf", StringComparison.Ordinal);
            if (dstFloat && !srcFloat) Assert.That(modifiers, Is.EqualTo(".rn"), line);
            if (!dstFloat && srcFloat) Assert.That(modifiers, Is.EqualTo(".rzi"), line);
            if (dstFloat && srcFloat && Bits(dst) < Bits(src)) Assert.That(modifiers, Is.EqualTo(".rn"), line);
            if (dstFloat && srcFloat && Bits(dst) > Bits(src)) Assert.That(modifiers, Is.Empty, line);
            if (!dstFloat && !srcFloat) Assert.That(modifiers, Is.Empty, line);
        }
    }

    private static int Bits(string ptxType) => int.Parse(ptxType.TrimStart('f', 'b', 's', 'u'), System.Globalization.CultureInfo.InvariantCulture);

    [Test]
    public void Bf16WidensByShiftBeforeSm90()
    {
        var k = new KernelUnderTest("Bf16Old");
        var p = k.Param(KernelUnderTest.Global, "p");
        var h = k.B.Load(IRType.BFloat16, p);
        k.B.Store(k.B.PtrAdd(p, Constant.I64(4)), k.Intrinsic(IntrinsicOp.BFloat16ToFloat, IRType.Float32, h));
        k.B.Ret();
        string text = k.Compile(new PtxTarget(7, 0, 80)).Text;
        Assert.That(text, Does.Not.Contain("cvt.f32.bf16"));
        Assert.That(text, Does.Contain("shl.b32").And.Contain("ld.global.b16").And.Contain(".target sm_80"));
    }

    [Test]
    public void ArithmeticSignednessAndShifts()
    {
        var k = new KernelUnderTest("Arith");
        var p = k.Param(KernelUnderTest.Global, "p");
        var x = k.Param(IRType.Int32, "x");
        var y = k.Param(IRType.Int32, "y");
        var l = k.Param(IRType.Int64, "l");
        var f = k.Param(IRType.Float32, "f");
        var g = k.Param(IRType.Float32, "g");
        var b8 = k.Param(IRType.Int8, "b8");
        Value[] results =
        [
            k.B.Binary(Opcode.Div, x, y), k.B.Binary(Opcode.DivUn, x, y), k.B.Binary(Opcode.Rem, x, y), k.B.Binary(Opcode.RemUn, x, y),
            k.B.Binary(Opcode.Shl, x, y), k.B.Binary(Opcode.Shr, x, y), k.B.Binary(Opcode.ShrUn, x, Constant.I32(33)),
            k.B.Convert(IRType.Int32, k.B.Binary(Opcode.Shl, l, k.B.Convert(IRType.Int64, y))),
            k.B.Convert(IRType.Int32, k.B.Binary(Opcode.Div, b8, Constant.Int(IRType.Int8, -2))),
            k.B.Unary(Opcode.Neg, x), k.B.Unary(Opcode.Not, x),
            k.B.Binary(Opcode.And, x, y), k.B.Binary(Opcode.Or, x, y), k.B.Binary(Opcode.Xor, x, Constant.I32(-1)),
            k.B.Convert(IRType.Int32, k.B.Binary(Opcode.Div, f, g)), k.B.Convert(IRType.Int32, k.B.Binary(Opcode.Rem, f, g)),
            k.B.Convert(IRType.Int32, k.B.Unary(Opcode.Neg, f)),
            k.B.Convert(IRType.Int32, k.B.Cmp(CompareKind.Ne, f, g)), k.B.Convert(IRType.Int32, k.B.Cmp(CompareKind.LtUn, f, g)),
            k.B.Convert(IRType.Int32, k.B.Cmp(CompareKind.Ge, f, g)), k.B.Convert(IRType.Int32, k.B.Cmp(CompareKind.LtUn, x, y)),
            k.B.Convert(IRType.Int32, k.B.Cmp(CompareKind.Lt, x, y)), k.B.Convert(IRType.Int32, k.B.Cmp(CompareKind.Eq, l, Constant.I64(3))),
        ];
        for (int i = 0; i < results.Length; i++) k.B.Store(k.B.PtrAdd(p, Constant.I64(4 * i)), results[i], 4);
        k.B.Ret();
        string text = k.Compile().Text;
        Assert.That(text, Does.Contain("div.s32").And.Contain("div.u32").And.Contain("rem.s32").And.Contain("rem.u32"));
        Assert.That(text, Does.Match(@"and\.b32 (%r\d+), %r\d+, 31;\s+shl\.b32 %r\d+, %r\d+, \1;"));
        Assert.That(text, Does.Contain("shr.s32").And.Match(@"shr\.u32 %r\d+, %r\d+, 1;"), "constant count masked: 33 & 31 = 1");
        Assert.That(text, Does.Match(@"cvt\.u32\.u64 (%r\d+), %rd\d+;\s+and\.b32 (%r\d+), \1, 63;\s+shl\.b64 %rd\d+, %rd\d+, \2;"));
        Assert.That(text, Does.Match(@"cvt\.s16\.s8 (%rs\d+), %rs\d+;\s+div\.s16 %rs\d+, \1, -2;"));
        Assert.That(text, Does.Contain("neg.s32").And.Contain("not.b32").And.Contain("xor.b32").And.Contain("neg.f32"));
        Assert.That(text, Does.Contain("div.rn.f32").And.Contain("cvt.rzi.f32.f32").And.Contain("fma.rn.f32"));
        Assert.That(text, Does.Contain("setp.neu.f32").And.Contain("setp.ltu.f32").And.Contain("setp.ge.f32"));
        Assert.That(text, Does.Contain("setp.lt.u32").And.Contain("setp.lt.s32").And.Contain("setp.eq.u64"));
        Assert.That(text, Does.Not.Contain("setp.ne.f32"), "C# != on floats is unordered");
    }

    [Test]
    public void SelectAndBoolLogic()
    {
        var k = new KernelUnderTest("Logic");
        var p = k.Param(KernelUnderTest.Global, "p");
        var x = k.Param(IRType.Int32, "x");
        var f = k.Param(IRType.Float32, "f");
        var flag = k.Param(IRType.Bool, "flag");
        var c1 = k.B.Cmp(CompareKind.Gt, x, Constant.I32(0));
        var c2 = k.B.Cmp(CompareKind.Le, f, Constant.F32(2.5f));
        var both = k.B.Binary(Opcode.And, c1, c2);
        var any = k.B.Binary(Opcode.Or, both, flag);
        var diff = k.B.Binary(Opcode.Xor, any, c1);
        var none = k.B.Unary(Opcode.Not, diff);
        var eq = k.B.Cmp(CompareKind.Eq, none, flag);
        var pick = k.B.Select(eq, x, Constant.I32(-7));
        var pickF = k.B.Select(none, f, Constant.F32(1f));
        var pickB = k.B.Select(c1, c2, flag);
        k.B.Store(p, pick);
        k.B.Store(k.B.PtrAdd(p, Constant.I64(4)), pickF);
        k.B.Store(k.B.PtrAdd(p, Constant.I64(8)), pickB);
        k.B.Ret();
        string text = k.Compile().Text;
        Assert.That(text, Does.Contain("and.pred").And.Contain("or.pred").And.Contain("xor.pred").And.Contain("not.pred"));
        Assert.That(text, Does.Match(@"selp\.b32 %r\d+, %r\d+, -7, %p\d+;"));
        Assert.That(text, Does.Match(@"selp\.f32 %f\d+, %f\d+, 0f3F800000, %p\d+;"));
        Assert.That(text, Does.Match(@"setp\.le\.f32 %p\d+, %f\d+, 0f40200000;"));
        Assert.That(text, Does.Contain("ld.param.u8").And.Contain("setp.ne.b16"));
        Assert.That(text, Does.Match(@"selp\.u16 %rs\d+, 1, 0, %p\d+;\s+st\.global\.u8"));
    }

    [Test]
    public void LocalAllocaGoesToLocalMemory()
    {
        var k = new KernelUnderTest("Local");
        var p = k.Param(KernelUnderTest.Global, "p");
        var slot = k.B.Alloca(16, 4);
        var array = k.Intrinsic(IntrinsicOp.LocalAllocate, IRType.Pointer(AddressSpace.Local), Constant.I32(8));
        array.ElementType = IRType.Int32;
        var tid = k.Intrinsic(IntrinsicOp.ThreadIdxX, IRType.Int32);
        k.B.Store(k.Element(slot, tid, 4), Constant.F32(3f));
        k.B.Store(k.Element(array, tid, 4), tid);
        var v = k.B.Load(IRType.Float32, slot);
        k.B.Store(p, v);
        k.B.Ret();
        string text = k.Compile().Text;
        Assert.That(text, Does.Contain(".local .align 4 .b8 __local_0[16];").And.Contain(".local .align 16 .b8 __local_1[32];"));
        Assert.That(text, Does.Match(@"mov\.u64 %rd\d+, __local_0;"));
        Assert.That(text, Does.Contain("st.local.f32").And.Contain("ld.local.f32").And.Contain("st.local.u32"));
        Assert.That(text, Does.Match(@"mov\.f32 %f\d+, 0f40400000;"), "store of a constant goes through a register");
    }

    private static readonly IntrinsicOp[] s_unaryFloat =
    [
        IntrinsicOp.Exp, IntrinsicOp.Exp2, IntrinsicOp.Log, IntrinsicOp.Log2, IntrinsicOp.Sqrt, IntrinsicOp.Rsqrt, IntrinsicOp.Tanh,
        IntrinsicOp.Sin, IntrinsicOp.Cos, IntrinsicOp.FastExp, IntrinsicOp.FastExp2, IntrinsicOp.FastLog, IntrinsicOp.FastLog2,
        IntrinsicOp.FastRsqrt, IntrinsicOp.FastTanh, IntrinsicOp.FastReciprocal, IntrinsicOp.Abs, IntrinsicOp.Floor,
        IntrinsicOp.Ceiling, IntrinsicOp.Round, IntrinsicOp.Truncate,
    ];

    private static readonly IntrinsicOp[] s_binaryFloat =
        [IntrinsicOp.Pow, IntrinsicOp.FastDivide, IntrinsicOp.Min, IntrinsicOp.Max, IntrinsicOp.CopySign];

    [Test]
    public void MathIntrinsics()
    {
        var k = new KernelUnderTest("Math");
        var p = k.Param(KernelUnderTest.Global, "p");
        var x = k.Param(IRType.Float32, "x");
        var y = k.Param(IRType.Float32, "y");
        var i = k.Param(IRType.Int32, "i");
        var d = k.Param(IRType.Float64, "d");
        var results = new List<Value>();
        results.AddRange(s_unaryFloat.Select(op => k.Intrinsic(op, IRType.Float32, x)));
        results.AddRange(s_binaryFloat.Select(op => k.Intrinsic(op, IRType.Float32, x, y)));
        results.Add(k.Intrinsic(IntrinsicOp.Fma, IRType.Float32, x, y, x));
        results.Add(k.B.Convert(IRType.Float32, k.Intrinsic(IntrinsicOp.Min, IRType.Int32, i, Constant.I32(3))));
        results.Add(k.B.Convert(IRType.Float32, k.Intrinsic(IntrinsicOp.Abs, IRType.Int32, i)));
        results.Add(k.B.Convert(IRType.Float32, k.Intrinsic(IntrinsicOp.Max, IRType.Float64, d, d)));
        results.Add(k.B.Convert(IRType.Float32, k.Intrinsic(IntrinsicOp.Sqrt, IRType.Float64, d)));
        results.Add(k.B.Convert(IRType.Float32, k.Intrinsic(IntrinsicOp.IsNaN, IRType.Bool, x)));
        results.Add(k.B.Convert(IRType.Float32, k.Intrinsic(IntrinsicOp.IsInfinity, IRType.Bool, d)));
        results.Add(k.B.Convert(IRType.Float32, k.Intrinsic(IntrinsicOp.IsFinite, IRType.Bool, x)));
        results.Add(k.Intrinsic(IntrinsicOp.BitCast, IRType.Float32, k.Intrinsic(IntrinsicOp.BitCast, IRType.Int32, x)));
        var half = k.Intrinsic(IntrinsicOp.FloatToHalf, IRType.Float16, x);
        results.Add(k.Intrinsic(IntrinsicOp.HalfToFloat, IRType.Float32, k.Intrinsic(IntrinsicOp.Exp, IRType.Float16, half)));
        var bf = k.Intrinsic(IntrinsicOp.FloatToBFloat16, IRType.BFloat16, x);
        results.Add(k.Intrinsic(IntrinsicOp.BFloat16ToFloat, IRType.Float32, bf));
        for (int n = 0; n < results.Count; n++) k.B.Store(k.B.PtrAdd(p, Constant.I64(4 * n)), results[n], 4);
        k.B.Ret();
        string text = k.Compile().Text;
        Assert.That(text, Does.Contain("ex2.approx.f32").And.Contain("ex2.approx.ftz.f32").And.Contain("lg2.approx.f32").And.Contain("lg2.approx.ftz.f32"));
        Assert.That(text, Does.Contain("sqrt.rn.f32").And.Contain("rcp.rn.f32").And.Contain("rsqrt.approx.ftz.f32").And.Contain("tanh.approx.f32"));
        Assert.That(text, Does.Contain("sin.approx.f32").And.Contain("cos.approx.f32").And.Contain("rcp.approx.ftz.f32").And.Contain("div.full.ftz.f32"));
        Assert.That(text, Does.Contain("min.NaN.f32").And.Contain("max.NaN.f32").And.Contain("min.s32").And.Contain("abs.s32").And.Contain("abs.f32"));
        Assert.That(text, Does.Contain("max.f64").And.Contain("setp.nan.f64").And.Contain("sqrt.rn.f64"));
        Assert.That(text, Does.Contain("cvt.rmi.f32.f32").And.Contain("cvt.rpi.f32.f32").And.Contain("cvt.rni.f32.f32").And.Contain("cvt.rzi.f32.f32"));
        Assert.That(text, Does.Contain("testp.notanumber.f32").And.Contain("testp.infinite.f64").And.Contain("testp.finite.f32"));
        Assert.That(text, Does.Contain("fma.rn.f32").And.Contain("mov.b32 %r").And.Contain("mov.b32 %f"));
        Assert.That(text, Does.Contain("cvt.rn.f16.f32").And.Contain("cvt.f32.f16").And.Contain("cvt.rn.bf16.f32"));
        // CopySign(x, y) = |x| with y's sign; PTX copysign takes the sign source first.
        var xReg = Regex.Match(text, @"ld\.param\.f32 (%f\d+), \[Math_param_1\]").Groups[1].Value;
        var yReg = Regex.Match(text, @"ld\.param\.f32 (%f\d+), \[Math_param_2\]").Groups[1].Value;
        Assert.That(text, Does.Contain($", {yReg}, {xReg};").And.Match($@"copysign\.f32 %f\d+, {Regex.Escape(yReg)}, {Regex.Escape(xReg)};"));
    }

    [Test]
    public void F64TranscendentalsAreRejected()
    {
        var k = new KernelUnderTest("F64Exp");
        var p = k.Param(KernelUnderTest.Global, "p");
        var d = k.Param(IRType.Float64, "d");
        k.B.Store(p, k.Intrinsic(IntrinsicOp.Exp, IRType.Float64, d));
        k.B.Ret();
        var e = Assert.Throws<CompilationException>(() => PtxBackend.Emit(k.Function, PtxTarget.Default));
        Assert.That(e!.Message, Does.Contain("f64 Exp"));
    }

    private static Parameter TensorMapParameter(KernelUnderTest k)
    {
        var map = k.Param(IRType.GenericPointer, "map");
        map.ByValueBytes = TensorMap.DeviceBytes;
        return map;
    }

    [Test]
    public void EveryIntrinsicHasALowering()
    {
        foreach (var op in Enum.GetValues<IntrinsicOp>())
        {
            var k = new KernelUnderTest("Op" + op);
            var p = k.Param(KernelUnderTest.Global, "p");
            var f = k.Param(IRType.Float32, "f");
            var i = k.Param(IRType.Int32, "i");
            var flag = k.Param(IRType.Bool, "flag");
            Instruction result = op switch
            {
                <= IntrinsicOp.WarpSize => k.Intrinsic(op, IRType.Int32),
                IntrinsicOp.Barrier or IntrinsicOp.MemoryFenceGroup or IntrinsicOp.MemoryFenceDevice or IntrinsicOp.WarpBarrier
                    => k.Intrinsic(op, IRType.Void),
                IntrinsicOp.BarrierPopCount => k.Intrinsic(op, IRType.Int32, flag),
                IntrinsicOp.BarrierAnd or IntrinsicOp.BarrierOr => k.Intrinsic(op, IRType.Bool, flag),
                >= IntrinsicOp.ShuffleIdx and <= IntrinsicOp.ShuffleDown => k.Intrinsic(op, IRType.Float32, f, i),
                >= IntrinsicOp.WarpReduceAdd and <= IntrinsicOp.WarpReduceOr => k.Intrinsic(op, IRType.Int32, i),
                IntrinsicOp.WarpBallot => k.Intrinsic(op, IRType.Int32, flag),
                >= IntrinsicOp.TrailingZeroCount and <= IntrinsicOp.PopCount => k.Intrinsic(op, IRType.Int32, i),
                IntrinsicOp.SharedAllocate => k.Intrinsic(op, KernelUnderTest.Shared, Constant.I32(4)),
                IntrinsicOp.SharedDynamic => k.Intrinsic(op, KernelUnderTest.Shared),
                IntrinsicOp.LocalAllocate => k.Intrinsic(op, IRType.Pointer(AddressSpace.Local), Constant.I32(4)),
                IntrinsicOp.CpuBoundsCheck => k.Intrinsic(op, IRType.Void, i, i),
                IntrinsicOp.AsyncCopy16 => k.Intrinsic(op, IRType.Void, k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared), p, flag),
                IntrinsicOp.AsyncCopyWaitAll or IntrinsicOp.AsyncCopyCommit => k.Intrinsic(op, IRType.Void),
                IntrinsicOp.AsyncCopyWaitGroup => k.Intrinsic(op, IRType.Void, Constant.I32(1)),
                IntrinsicOp.BulkReduceAdd => k.Intrinsic(op, IRType.Void, p, k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared), Constant.I32(64)),
                IntrinsicOp.BulkLoad => k.Intrinsic(op, IRType.Void, k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared), p, Constant.I32(64),
                    k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared)),
                IntrinsicOp.TensorLoad => k.Intrinsic(op, IRType.Void, k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared),
                    TensorMapParameter(k), i, i, k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared)),
                IntrinsicOp.BulkCommit or IntrinsicOp.FenceProxyAsyncShared => k.Intrinsic(op, IRType.Void),
                IntrinsicOp.BulkWaitRead or IntrinsicOp.BulkWait => k.Intrinsic(op, IRType.Void, Constant.I32(0)),
                IntrinsicOp.MmaF16 or IntrinsicOp.MmaBF16 or IntrinsicOp.MmaTf32 => k.Intrinsic(op, IRType.Void, i, i, i, i, i, i, f, f, f, f),
                IntrinsicOp.RoundToTf32 => k.Intrinsic(op, IRType.Int32, f),
                IntrinsicOp.WarpGroupFence or IntrinsicOp.WarpGroupCommit => k.Intrinsic(op, IRType.Void),
                IntrinsicOp.WarpGroupWait => k.Intrinsic(op, IRType.Void, Constant.I32(0)),
                IntrinsicOp.WarpGroupIncreaseRegisters or IntrinsicOp.WarpGroupDecreaseRegisters => k.Intrinsic(op, IRType.Void, Constant.I32(232)),
                IntrinsicOp.WarpGroupMmaF16 or IntrinsicOp.WarpGroupMmaBF16
                    => k.Intrinsic(op, IRType.Void, [k.Param(IRType.Int64, "a"), k.Param(IRType.Int64, "b"), flag, f, f, f, f, Constant.Bool(false), Constant.Bool(false)]),
                IntrinsicOp.WarpGroupMmaRegisterAF16 or IntrinsicOp.WarpGroupMmaRegisterABF16
                    => k.Intrinsic(op, IRType.Void, [i, i, i, i, k.Param(IRType.Int64, "b"), flag, f, f, f, f, Constant.Bool(true)]),
                IntrinsicOp.SharedAddress => k.Intrinsic(op, IRType.Int32, k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared)),
                IntrinsicOp.MBarrierInit or IntrinsicOp.MBarrierCompleteTransaction
                    => k.Intrinsic(op, IRType.Void, k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared), i),
                IntrinsicOp.MBarrierArrive => k.Intrinsic(op, IRType.Int64, k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared)),
                IntrinsicOp.MBarrierArriveExpectTransaction
                    => k.Intrinsic(op, IRType.Int64, k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared), i),
                IntrinsicOp.MBarrierTryWaitParity => k.Intrinsic(op, IRType.Bool, k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared), i),
                IntrinsicOp.LoadMatrix or IntrinsicOp.LoadMatrixTransposed
                    => k.Intrinsic(op, IRType.Int32, k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared)),
                IntrinsicOp.StoreMatrix or IntrinsicOp.StoreMatrixTransposed
                    => k.Intrinsic(op, IRType.Void, k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared), i, i, i, i),
                IntrinsicOp.PackHalf2 or IntrinsicOp.PackBFloat162 => k.Intrinsic(op, IRType.Int32, f, f),
                IntrinsicOp.RuntimeValue => k.Intrinsic(op, IRType.Int32, i),
                IntrinsicOp.KeepPhiCopies => k.Intrinsic(op, IRType.Void),
                IntrinsicOp.AtomicCompareExchange => k.Intrinsic(op, IRType.Int32, p, i, i),
                IntrinsicOp.AtomicAddFour => k.Intrinsic(op, IRType.Void, p, f, f, f, f),
                IntrinsicOp.AtomicAddTwo => k.Intrinsic(op, IRType.Void, p, f, f),
                >= IntrinsicOp.AtomicAdd and <= IntrinsicOp.AtomicExchange => k.Intrinsic(op, IRType.Int32, p, i),
                IntrinsicOp.Fma => k.Intrinsic(op, IRType.Float32, f, f, f),
                IntrinsicOp.Pow or IntrinsicOp.FastDivide or IntrinsicOp.Min or IntrinsicOp.Max or IntrinsicOp.CopySign
                    => k.Intrinsic(op, IRType.Float32, f, f),
                IntrinsicOp.IsNaN or IntrinsicOp.IsInfinity or IntrinsicOp.IsFinite => k.Intrinsic(op, IRType.Bool, f),
                IntrinsicOp.BitCast => k.Intrinsic(op, IRType.Int32, f),
                IntrinsicOp.FloatToHalf => k.Intrinsic(op, IRType.Float16, f),
                IntrinsicOp.FloatToBFloat16 => k.Intrinsic(op, IRType.BFloat16, f),
                IntrinsicOp.HalfToFloat => k.Intrinsic(op, IRType.Float32, k.Intrinsic(IntrinsicOp.FloatToHalf, IRType.Float16, f)),
                IntrinsicOp.BFloat16ToFloat => k.Intrinsic(op, IRType.Float32, k.Intrinsic(IntrinsicOp.FloatToBFloat16, IRType.BFloat16, f)),
                _ => k.Intrinsic(op, IRType.Float32, f),
            };
            if (op is IntrinsicOp.SharedAllocate or IntrinsicOp.LocalAllocate) result.ElementType = IRType.Float32;
            if (result.Type.Kind != TypeKind.Void) k.B.Store(p, result);
            k.B.Ret();
            Assert.DoesNotThrow(() => k.Compile(), op.ToString());
        }
    }

    [TestCase(90, "cp.async.cg.shared.global")]
    [TestCase(75, "ld.global.v4.b32")]
    public void AsyncCopyIsCpAsyncFromSm80AndASynchronousCopyBefore(int sm, string expected)
    {
        var k = new KernelUnderTest("AsyncCopy" + sm);
        var source = k.Param(KernelUnderTest.Global, "source");
        var fetch = k.Param(IRType.Bool, "fetch");
        var shared = k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared);
        k.Intrinsic(IntrinsicOp.AsyncCopy16, IRType.Void, shared, source, fetch);
        k.Intrinsic(IntrinsicOp.AsyncCopyWaitAll, IRType.Void);
        k.B.Ret();
        string ptx = k.Compile(new PtxTarget(8, 0, sm)).Text;
        Assert.That(ptx, Does.Contain(expected));
        if (sm >= 80) Assert.That(ptx, Does.Contain("selp.u32").And.Contain("cp.async.wait_all"));
        else Assert.That(ptx, Does.Contain("st.shared.v4.b32").And.Not.Contain("cp.async"));
    }

    /// <summary>The bulk copies lower to sm_90's cp.async.bulk forms (the wait's group count a constant) and are refused below
    /// sm_90, where they have no meaning to fall back on: kernels choose them by AcceleratorInfo.HasBulkCopies.</summary>
    [TestCase(90)]
    [TestCase(80)]
    public void BulkReductionIsCpReduceAsyncBulkOnSm90Only(int sm)
    {
        var k = new KernelUnderTest("BulkReduce" + sm);
        var destination = k.Param(KernelUnderTest.Global, "destination");
        var bytes = k.Param(IRType.Int32, "bytes");
        var shared = k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared);
        k.Intrinsic(IntrinsicOp.FenceProxyAsyncShared, IRType.Void);
        k.Intrinsic(IntrinsicOp.BulkReduceAdd, IRType.Void, destination, shared, bytes);
        k.Intrinsic(IntrinsicOp.BulkCommit, IRType.Void);
        k.Intrinsic(IntrinsicOp.BulkWaitRead, IRType.Void, Constant.I32(1));
        k.Intrinsic(IntrinsicOp.BulkWait, IRType.Void, Constant.I32(0));
        k.B.Ret();
        if (sm < 90)
        {
            var e = Assert.Throws<CompilationException>(() => k.Compile(new PtxTarget(8, 1, sm)));
            Assert.That(e!.Message, Does.Contain("needs sm_90"));
            return;
        }
        string ptx = k.Compile(new PtxTarget(8, 1, sm)).Text;
        Assert.That(ptx, Does.Match(@"cp\.reduce\.async\.bulk\.global\.shared::cta\.bulk_group\.add\.f32 \[[^\]]+\], \[[^\]]+\], %r\d+;"));
        Assert.That(ptx, Does.Contain("fence.proxy.async.shared::cta;").And.Contain("cp.async.bulk.commit_group;")
            .And.Contain("cp.async.bulk.wait_group.read 1;").And.Contain("cp.async.bulk.wait_group 0;"));
    }

    /// <summary>From sm_80 the copies carry the L2::128B hint (whole lines, as tile rows are read); a fetch known to be true
    /// takes the form without src-size, a run-time one zero-fills through src-size 0.</summary>
    [TestCase(true)]
    [TestCase(false)]
    public void AsyncCopyHintsWholeL2LinesAndDropsSrcSizeForAKnownFetch(bool knownFetch)
    {
        var k = new KernelUnderTest("AsyncCopyHint" + knownFetch);
        var source = k.Param(KernelUnderTest.Global, "source");
        var fetch = k.Param(IRType.Bool, "fetch");
        var shared = k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared);
        k.Intrinsic(IntrinsicOp.AsyncCopy16, IRType.Void, shared, source, knownFetch ? Constant.Bool(true) : fetch);
        k.B.Ret();
        string ptx = k.Compile(new PtxTarget(8, 0, 90)).Text;
        string copy = ptx.Split('\n').Single(line => line.Contains("cp.async.cg"));
        Assert.That(copy, Does.Contain("cp.async.cg.shared.global.L2::128B"));
        Assert.That(copy, knownFetch ? Does.EndWith(", 16;") : Does.Not.EndWith(", 16;"), "src-size only for a run-time fetch");
        Assert.That(ptx, knownFetch ? Does.Not.Contain("selp.u32") : Does.Contain("selp.u32"));
    }

    [TestCase(9, 0, 90, true)]
    [TestCase(8, 1, 90, true)]
    [TestCase(8, 0, 90, false)]
    [TestCase(7, 0, 80, false)]
    public void AtomicAddFourIsOneVectorReductionFromPtx81OnSm90(int isaMajor, int isaMinor, int sm, bool vector)
    {
        var k = new KernelUnderTest($"AddFour{isaMajor}{isaMinor}{sm}");
        var target = k.Param(KernelUnderTest.Global, "target");
        var x = k.Param(IRType.Float32, "x");
        k.Intrinsic(IntrinsicOp.AtomicAddFour, IRType.Void, k.B.PtrAdd(target, Constant.I64(32)), x, x, x, x);
        k.B.Ret();
        string ptx = k.Compile(new PtxTarget(isaMajor, isaMinor, sm)).Text;
        if (vector) Assert.That(ptx, Does.Contain("red.global.add.v4.f32 [").And.Not.Contain("red.global.add.f32"));
        else
            Assert.That(ptx, Does.Not.Contain(".v4.f32").And.Contain("+32], ").And.Contain("+36], ").And.Contain("+40], ").And.Contain("+44], ")
                .And.Contain("red.global.add.f32"));
    }

    [Test]
    public void FourAlignedLoadsAndStoresBecomeVectorAccesses()
    {
        var k = new KernelUnderTest("Vec4");
        var src = k.Param(KernelUnderTest.Global, "src");
        var dst = k.Param(KernelUnderTest.Global, "dst");
        var index = GlobalIndex(k);
        var source = k.Element(src, index, 16);
        var target = k.Element(dst, index, 16);
        var loads = Enumerable.Range(0, 4)
            .Select(j => k.B.Load(IRType.Float32, j == 0 ? source : k.B.PtrAdd(source, Constant.I64(4 * j)), j == 0 ? 16 : 4))
            .ToList();
        var sums = loads.Select(l => k.B.Add(l, Constant.F32(1f))).ToList();
        for (int j = 0; j < 4; j++)
            k.B.Store(j == 0 ? target : k.B.PtrAdd(target, Constant.I64(4 * j)), sums[j], j == 0 ? 16 : 4);
        // Two more at an 8-byte-aligned base: v2; then a pair broken by a barrier: scalar.
        var pair0 = k.B.Load(IRType.Int32, k.B.PtrAdd(source, Constant.I64(16)), 8);
        var pair1 = k.B.Load(IRType.Int32, k.B.PtrAdd(source, Constant.I64(20)), 4);
        k.B.Store(k.B.PtrAdd(target, Constant.I64(16)), k.B.Add(pair0, pair1), 8);
        var lone = k.B.Load(IRType.Int32, k.B.PtrAdd(source, Constant.I64(32)), 16);
        k.Intrinsic(IntrinsicOp.Barrier, IRType.Void);
        var after = k.B.Load(IRType.Int32, k.B.PtrAdd(source, Constant.I64(36)), 4);
        k.B.Store(k.B.PtrAdd(target, Constant.I64(32)), k.B.Add(lone, after), 4);
        k.B.Ret();

        string text = k.Compile().Text;
        Assert.That(text, Does.Match(@"ld\.global\.v4\.f32 \{%f\d+, %f\d+, %f\d+, %f\d+\}, \[%rd\d+\];"));
        Assert.That(text, Does.Match(@"st\.global\.v4\.f32 \[%rd\d+\], \{%f\d+, %f\d+, %f\d+, %f\d+\};"));
        Assert.That(text, Does.Match(@"ld\.global\.v2\.u32 \{%r\d+, %r\d+\}, \[%rd\d+\+16\];"));
        Assert.That(text, Does.Match(@"ld\.global\.u32 %r\d+, \[%rd\d+\+32\];"));
        Assert.That(text, Does.Match(@"ld\.global\.u32 %r\d+, \[%rd\d+\+36\];"));
        Assert.That(Regex.Matches(text, @"ld\.global\.f32").Count, Is.Zero);

        string scalar = PtxBackend.Emit(k.Function, PtxTarget.Default, new PtxEmitOptions(VectorizeMemoryAccess: false)).Text;
        Assert.That(scalar, Does.Not.Contain(".v4").And.Not.Contain(".v2"));
    }

    [Test]
    public void LoadsAcrossAStoreAreNotMerged()
    {
        var k = new KernelUnderTest("NoVec");
        var p = k.Param(KernelUnderTest.Global, "p");
        var a = k.B.Load(IRType.Float32, p, 16);
        k.B.Store(k.B.PtrAdd(p, Constant.I64(64)), a);
        var b = k.B.Load(IRType.Float32, k.B.PtrAdd(p, Constant.I64(4)));
        k.B.Store(k.B.PtrAdd(p, Constant.I64(128)), b);
        k.B.Ret();
        string text = k.Compile().Text;
        Assert.That(text, Does.Not.Contain(".v2").And.Not.Contain(".v4"));
    }

    /// <summary>stmatrix.x4 writes its row address (a shared register plus an immediate offset, as ldmatrix's) and then the
    /// four registers, in operand order; the .trans and .x2 forms follow the same pattern.</summary>
    [TestCase(IntrinsicOp.StoreMatrix, "x4", 4)]
    [TestCase(IntrinsicOp.StoreMatrixTransposed, "x4.trans", 4)]
    [TestCase(IntrinsicOp.StoreMatrix, "x2", 2)]
    public void StoreMatrixIsStmatrixWithAddressThenRegisters(IntrinsicOp op, string form, int count)
    {
        var k = new KernelUnderTest("StoreMatrix" + count + op);
        var registers = Enumerable.Range(0, count).Select(j => (Value)k.Param(IRType.Int32, "r" + j)).ToArray();
        var shared = k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared);
        k.Intrinsic(op, IRType.Void, [k.B.PtrAdd(shared, Constant.I64(48)), .. registers]);
        k.B.Ret();
        var module = k.Compile();
        string line = PtxChecker.Instructions(module).Single(l => l.StartsWith("stmatrix", StringComparison.Ordinal));
        string operands = string.Join(", ", Enumerable.Repeat(@"%r\d+", count));
        Assert.That(line, Does.Match($@"^stmatrix\.sync\.aligned\.m8n8\.{Regex.Escape(form)}\.shared\.b16 \[%rd\d+\+48\], \{{{operands}\}};$"));
        // the registers in operand order: the parameters' loads feed them one to one
        var loaded = Regex.Matches(module.Text, @"ld\.param\.u32 (%r\d+), \[(\w+)\];").ToDictionary(m => m.Groups[2].Value, m => m.Groups[1].Value);
        var used = Regex.Matches(line[line.IndexOf('{')..], @"%r\d+").Select(m => m.Value).ToList();
        for (int j = 0; j < count; j++)
            Assert.That(used[j], Is.EqualTo(loaded[$"{module.EntryName}_param_{j}"]), line);
    }

    /// <summary>Below sm_90 the plain stmatrix is what it does: per register one shuffle of the row address (from lane
    /// 8j + lane / 4) and one 32-bit shared store at 4 · (lane % 4) bytes into that row; the transposed form has no such
    /// lowering and says what it needs.</summary>
    [Test]
    public void StoreMatrixBelowSm90IsShufflesAndSharedStores()
    {
        var k = new KernelUnderTest("StoreMatrixSm80");
        var i = k.Param(IRType.Int32, "i");
        k.Intrinsic(IntrinsicOp.StoreMatrix, IRType.Void, k.B.PtrAdd(k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared), Constant.I64(48)), i, i, i, i);
        k.B.Ret();
        var lines = PtxChecker.Instructions(PtxBackend.Emit(k.Function, new PtxTarget(8, 0, 80))).ToList();
        Assert.That(lines.Any(l => l.StartsWith("stmatrix", StringComparison.Ordinal)), Is.False);
        var shuffles = lines.Where(l => l.StartsWith("shfl.sync.idx.b32", StringComparison.Ordinal)).ToList();
        Assert.That(shuffles, Has.Count.EqualTo(4));
        Assert.That(lines.Count(l => l.StartsWith("st.shared.b32", StringComparison.Ordinal)), Is.EqualTo(4));
        Assert.That(lines, Has.Some.Match(@"^shr\.u32 %r\d+, %r\d+, 2;$"));
        Assert.That(lines, Has.Some.Match(@"^add\.u32 %r\d+, %r\d+, 48;$"));
        // source lanes row + 8j for the four matrices
        foreach (int j in new[] { 8, 16, 24 })
            Assert.That(lines, Has.Some.Match($@"^add\.u32 %r\d+, %r\d+, {j};$"));

        var t = new KernelUnderTest("StoreMatrixTransposedSm80");
        var x = t.Param(IRType.Int32, "x");
        t.Intrinsic(IntrinsicOp.StoreMatrixTransposed, IRType.Void, t.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared), x, x, x, x);
        t.B.Ret();
        var e = Assert.Throws<CompilationException>(() => PtxBackend.Emit(t.Function, new PtxTarget(8, 0, 80)));
        Assert.That(e!.Message, Does.Contain("sm_90"));
    }

    /// <summary>
    /// stmatrix is a shared-memory store: through the whole optimizer it stays although nothing uses it, a load of an
    /// address after it is not merged with the same load before it (nor vectorized with a neighbour before it), and the
    /// loads keep their sides of it. Device memory too: value numbering of global loads stops at it like at any store.
    /// </summary>
    [TestCase(AddressSpace.Shared)]
    [TestCase(AddressSpace.Global)]
    public void LoadsAroundAStoreMatrixAreNeitherMergedNorMoved(AddressSpace space)
    {
        var k = new KernelUnderTest("LoadsAroundStoreMatrix" + space);
        var output = k.Param(KernelUnderTest.Global, "output");
        var input = k.Param(KernelUnderTest.Global, "input");
        var value = k.Param(IRType.Int32, "value");
        var shared = k.Intrinsic(IntrinsicOp.SharedDynamic, KernelUnderTest.Shared);
        var row = k.B.PtrAdd(shared, Constant.I64(64));
        Value address = space == AddressSpace.Shared ? row : input;
        var before = k.B.Load(IRType.Int32, address, 8);
        k.Intrinsic(IntrinsicOp.StoreMatrix, IRType.Void, row, value, value, value, value);
        var after = k.B.Load(IRType.Int32, address, 8);
        var neighbour = k.B.Load(IRType.Int32, k.B.PtrAdd(address, Constant.I64(4)), 4);
        k.B.Store(output, before);
        k.B.Store(k.B.PtrAdd(output, Constant.I64(4)), after);
        k.B.Store(k.B.PtrAdd(output, Constant.I64(8)), neighbour);
        k.B.Ret();
        FlashAttn.Compute.IR.Transformations.Optimizer.Run(k.Function, new() { VerifyEachPass = true });
        var lines = PtxChecker.Instructions(k.Compile()).ToList();
        string load = space == AddressSpace.Shared ? "ld.shared." : "ld.global.";
        int store = lines.FindIndex(l => l.StartsWith("stmatrix.sync.aligned.m8n8.x4.shared.b16", StringComparison.Ordinal));
        Assert.That(store, Is.GreaterThanOrEqualTo(0), "stmatrix removed\n" + string.Join("\n", lines));
        // the registers each load line defines ({a, b} for a vector load), by side of the stmatrix
        List<string> Loaded(IEnumerable<string> part) => part.Where(l => l.StartsWith(load, StringComparison.Ordinal))
            .SelectMany(l => Regex.Matches(l[..l.IndexOf('[')], @"%r\d+").Select(m => m.Value)).ToList();
        var loadedBefore = Loaded(lines.Take(store));
        var loadedAfter = Loaded(lines.Skip(store + 1));
        string text = string.Join("\n", lines);
        Assert.That(loadedBefore, Has.Count.EqualTo(1), "one load before (not vectorized with the neighbour after)\n" + text);
        Assert.That(loadedAfter, Has.Count.EqualTo(2), "the same address and its neighbour loaded again after\n" + text);
        string StoredAt(string offset) => Regex.Match(text, $@"st\.global\.u32 \[%rd\d+{Regex.Escape(offset)}\], (%r\d+);").Groups[1].Value;
        Assert.That(StoredAt(""), Is.EqualTo(loadedBefore[0]), text);
        Assert.That(StoredAt("+4"), Is.AnyOf(loadedAfter[0], loadedAfter[1]), "the second load was merged with the first\n" + text);
    }

    [Test]
    public void NamesAreSanitizedAndConstantConditionsFolded()
    {
        var k = new KernelUnderTest("Kernels.Softmax<float>`1");
        var p = k.Param(KernelUnderTest.Global, "p");
        var then = k.Function.AddBlock("then");
        var other = k.Function.AddBlock("else");
        k.B.CondBr(Constant.Bool(true), then, other);
        k.B.Block = then;
        k.B.Store(p, Constant.I32(1));
        k.B.Ret();
        k.B.Block = other;
        k.B.Block.Append(new Instruction(Opcode.Unreachable, IRType.Void));
        var module = k.Compile();
        Assert.That(module.EntryName, Is.EqualTo("Kernels_Softmax_float__1"));
        Assert.That(module.Text, Does.Contain("trap;"));
    }

    [Test]
    public void CallsAreRejected()
    {
        var callee = new Function("helper", IRType.Void);
        var k = new KernelUnderTest("Caller");
        k.B.Call(callee);
        k.B.Ret();
        Assert.Throws<CompilationException>(() => PtxBackend.Emit(k.Function, PtxTarget.Default));
    }
}
