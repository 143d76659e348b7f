using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Backends.Ptx;

/// <summary>
/// Lowers every <see cref="IntrinsicOp"/> to PTX. Accuracy of the non-fast math (f32), as emitted here:
/// <list type="bullet">
/// <item><c>Exp</c>: 2^h · 2^l with h = rn(x·log2e) and l the exact remainder of the product (fma plus a
/// low part of log2e), both powers by <c>ex2.approx.f32</c> (about 2 ulp each, subnormals kept): within
/// about 3 ulp. <c>Exp2</c>: <c>ex2.approx.f32</c> (without ftz, ≤ 2 ulp over the full range).</item>
/// <item><c>Log2</c>: <c>lg2.approx.f32</c>; <c>Log</c>: the same times ln 2. The error bound of lg2.approx is
/// absolute (about 2^-22), so relative accuracy degrades for arguments very close to 1.</item>
/// <item><c>Tanh</c>: an odd Taylor polynomial up to x^11 for |x| &lt; 0.3, else 1 - 2/(e^{2|x|}+1) with the
/// <c>Exp</c> sequence above, sign restored: within about 6 ulp. (The fast form is <c>tanh.approx.f32</c>,
/// relative error about 2^-11.)</item>
/// <item><c>Sin</c>/<c>Cos</c>: <c>sin/cos.approx.f32</c> (absolute error about 2^-21 in [-π, π], worse far
/// outside).</item>
/// <item><c>Pow</c>: 2^(y·log2|x|) with approximate ex2/lg2 (relative error grows with |y·log2 x|), C#'s
/// special cases for y = 0, x = 1 and negative x with integral y.</item>
/// <item><c>Sqrt</c>: <c>sqrt.rn</c> (correctly rounded); <c>Rsqrt</c>: <c>sqrt.rn</c> then <c>rcp.rn</c>
/// (exactly 1/Sqrt(x) as the CPU computes it).</item>
/// </list>
/// f64 has no approximate transcendental instructions: f64 Exp, Exp2, Log, Log2, Tanh, Sin, Cos and Pow
/// are <see cref="CompilationException"/>s; f64 Sqrt, Rsqrt, Fma, Min, Max, Abs, rounding and tests work.
/// f16/bf16 operands are computed in f32 and rounded back.
/// </summary>
internal sealed class PtxIntrinsics(PtxCodeBuilder b, PtxInstructionEmitter e)
{
    private const double Log2E = 1.4426950408889634;
    private const double Ln2 = 0.6931471805599453;

    private PtxInstructionEmitter E => e;

    /// <summary>Writes the intrinsic <paramref name="i"/>.</summary>
    public void Emit(Instruction i)
    {
        var op = i.Intrinsic;
        switch (op)
        {
            case IntrinsicOp.ThreadIdxX: Special(i, "%tid.x"); break;
            case IntrinsicOp.ThreadIdxY: Special(i, "%tid.y"); break;
            case IntrinsicOp.ThreadIdxZ: Special(i, "%tid.z"); break;
            case IntrinsicOp.GroupDimX: Special(i, "%ntid.x"); break;
            case IntrinsicOp.GroupDimY: Special(i, "%ntid.y"); break;
            case IntrinsicOp.GroupDimZ: Special(i, "%ntid.z"); break;
            case IntrinsicOp.GroupIdxX: Special(i, "%ctaid.x"); break;
            case IntrinsicOp.GroupIdxY: Special(i, "%ctaid.y"); break;
            case IntrinsicOp.GroupIdxZ: Special(i, "%ctaid.z"); break;
            case IntrinsicOp.GridDimX: Special(i, "%nctaid.x"); break;
            case IntrinsicOp.GridDimY: Special(i, "%nctaid.y"); break;
            case IntrinsicOp.GridDimZ: Special(i, "%nctaid.z"); break;
            case IntrinsicOp.LaneIdx: Special(i, "%laneid"); break;
            case IntrinsicOp.WarpSize: Special(i, "32"); break;

            case IntrinsicOp.Barrier: b.Emit("bar.sync 0"); break;
            case IntrinsicOp.BarrierPopCount:
                b.Emit($"bar.red.popc.u32 {b.Def(i)}, 0, {b.Reg(i.Operands[0])}");
                break;
            case IntrinsicOp.BarrierAnd:
                b.Emit($"bar.red.and.pred {b.Def(i)}, 0, {b.Reg(i.Operands[0])}");
                break;
            case IntrinsicOp.BarrierOr:
                b.Emit($"bar.red.or.pred {b.Def(i)}, 0, {b.Reg(i.Operands[0])}");
                break;
            case IntrinsicOp.MemoryFenceGroup: b.Emit("membar.cta"); break;
            case IntrinsicOp.MemoryFenceDevice: b.Emit("membar.gl"); break;
            case IntrinsicOp.WarpBarrier: b.Emit("bar.warp.sync -1"); break;

            case IntrinsicOp.ShuffleIdx: Shuffle(i, "idx", "31"); break;
            case IntrinsicOp.ShuffleXor: Shuffle(i, "bfly", "31"); break;
            case IntrinsicOp.ShuffleUp: Shuffle(i, "up", "0"); break;
            case IntrinsicOp.ShuffleDown: Shuffle(i, "down", "31"); break;
            case IntrinsicOp.WarpReduceAdd: WarpReduce(i, "add"); break;
            case IntrinsicOp.WarpReduceMin: WarpReduce(i, "min"); break;
            case IntrinsicOp.WarpReduceMax: WarpReduce(i, "max"); break;
            case IntrinsicOp.WarpReduceOr: WarpReduce(i, "or"); break;
            case IntrinsicOp.WarpBallot: b.Emit($"vote.sync.ballot.b32 {b.Def(i)}, {b.Reg(i.Operands[0])}, -1"); break;

            case IntrinsicOp.SharedAllocate: SharedAllocate(i); break;
            case IntrinsicOp.SharedDynamic: SharedDynamic(i); break;
            case IntrinsicOp.LocalAllocate:
            {
                int count = ConstantCount(i);
                E.LocalArray(i, checked(count * ElementSize(i)), 16);
                break;
            }
            case IntrinsicOp.CpuBoundsCheck:
                if (i.Type.Kind != TypeKind.Void && i.Operands.Count > 0)
                    b.Emit($"mov{PtxInstructionEmitter.BitType(i.Type)} {b.Def(i)}, {b.Src(i.Operands[0])}");
                break;

            case IntrinsicOp.AtomicAdd: Atomic(i, "add"); break;
            case IntrinsicOp.AtomicMax: Atomic(i, "max"); break;
            case IntrinsicOp.AtomicMin: Atomic(i, "min"); break;
            case IntrinsicOp.AtomicExchange: Atomic(i, "exch"); break;
            case IntrinsicOp.AtomicCompareExchange: Atomic(i, "cas"); break;
            case IntrinsicOp.AtomicAddFour: AtomicAddVector(i, 4); break;
            case IntrinsicOp.AtomicAddTwo: AtomicAddVector(i, 2); break;

            case IntrinsicOp.BitCast: BitCast(i); break;
            case IntrinsicOp.FloatToHalf or IntrinsicOp.HalfToFloat or IntrinsicOp.FloatToBFloat16 or IntrinsicOp.BFloat16ToFloat:
                E.Convert(b.Def(i), i.Operands[0], i.Type, false);
                break;

            case IntrinsicOp.IsNaN: Test(i, "notanumber"); break;
            case IntrinsicOp.IsInfinity: Test(i, "infinite"); break;
            case IntrinsicOp.IsFinite: Test(i, "finite"); break;

            case IntrinsicOp.Min or IntrinsicOp.Max: MinMax(i); break;
            case IntrinsicOp.Abs: Abs(i); break;
            case IntrinsicOp.TrailingZeroCount or IntrinsicOp.LeadingZeroCount or IntrinsicOp.PopCount: BitCount(i); break;

            case IntrinsicOp.AsyncCopy16: AsyncCopy16(i); break;
            case IntrinsicOp.RuntimeValue: b.Emit($"mov.u32 {b.Def(i)}, {b.Reg(i.Operands[0])}"); break;
            case IntrinsicOp.KeepPhiCopies: break; // read by the writer before any code (no phi coalescing)
            case IntrinsicOp.AsyncCopyWaitAll:
                if (b.Target.SmVersion >= 80) b.Emit("cp.async.wait_all");
                break;
            case IntrinsicOp.AsyncCopyCommit:
                if (b.Target.SmVersion >= 80) b.Emit("cp.async.commit_group");
                break;
            case IntrinsicOp.AsyncCopyWaitGroup:
                if (i.Operands[0] is not Constant { Bits: >= 0 and <= 7 } pending)
                    throw b.Error("AsyncCopy.WaitGroup needs a constant group count from 0 to 7");
                if (b.Target.SmVersion >= 80) b.Emit($"cp.async.wait_group {pending.Bits}");
                break;

            case IntrinsicOp.BulkReduceAdd:
                RequireBulkCopies(i);
                b.Emit($"cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32 {AddressIn(i.Operands[0], AddressSpace.Global)}, "
                    + $"{AddressIn(i.Operands[1], AddressSpace.Shared)}, {b.Src(i.Operands[2])}");
                break;
            case IntrinsicOp.BulkLoad:
                RequireBulkCopies(i);
                b.Emit($"cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes {AddressIn(i.Operands[0], AddressSpace.Shared)}, "
                    + $"{AddressIn(i.Operands[1], AddressSpace.Global)}, {b.Src(i.Operands[2])}, {AddressIn(i.Operands[3], AddressSpace.Shared)}");
                break;
            case IntrinsicOp.TensorLoad:
            {
                RequireBulkCopies(i);
                int rank = i.Operands.Count - 3;
                var coordinates = string.Join(", ", i.Operands.Skip(2).Take(rank).Select(b.Src));
                b.Emit($"cp.async.bulk.tensor.{rank}d.shared::cluster.global.tile.mbarrier::complete_tx::bytes {AddressIn(i.Operands[0], AddressSpace.Shared)}, "
                    + $"[{TensorMapAddress(i.Operands[1])}, {{{coordinates}}}], {AddressIn(i.Operands[^1], AddressSpace.Shared)}");
                break;
            }
            case IntrinsicOp.BulkCommit:
                RequireBulkCopies(i);
                b.Emit("cp.async.bulk.commit_group");
                break;
            case IntrinsicOp.BulkWaitRead or IntrinsicOp.BulkWait:
                RequireBulkCopies(i);
                if (i.Operands[0] is not Constant { Bits: >= 0 and <= 7 } groups)
                    throw b.Error($"{i.Intrinsic} needs a constant group count from 0 to 7");
                b.Emit($"cp.async.bulk.wait_group{(op == IntrinsicOp.BulkWaitRead ? ".read" : "")} {groups.Bits}");
                break;
            case IntrinsicOp.FenceProxyAsyncShared:
                RequireBulkCopies(i);
                b.Emit("fence.proxy.async.shared::cta");
                break;

            case IntrinsicOp.WarpGroupFence: RequireWarpGroupMma(i); b.Emit("wgmma.fence.sync.aligned"); break;
            case IntrinsicOp.WarpGroupCommit: RequireWarpGroupMma(i); b.Emit("wgmma.commit_group.sync.aligned"); break;
            case IntrinsicOp.WarpGroupWait:
                RequireWarpGroupMma(i);
                if (i.Operands[0] is not Constant { Bits: >= 0 and <= 7 } pendingProducts)
                    throw b.Error("WarpGroupMma.Wait needs a constant group count from 0 to 7");
                b.Emit($"wgmma.wait_group.sync.aligned {pendingProducts.Bits}");
                break;
            case IntrinsicOp.WarpGroupMmaF16 or IntrinsicOp.WarpGroupMmaRegisterAF16: WarpGroupMma(i, "f16"); break;
            case IntrinsicOp.WarpGroupMmaBF16 or IntrinsicOp.WarpGroupMmaRegisterABF16: WarpGroupMma(i, "bf16"); break;
            case IntrinsicOp.SharedAddress: SharedAddress(i); break;
            case IntrinsicOp.WarpGroupIncreaseRegisters or IntrinsicOp.WarpGroupDecreaseRegisters:
                RequireWarpGroupMma(i);
                if (i.Operands[0] is not Constant { Bits: >= 24 and <= 256 } registers || registers.Bits % 8 != 0)
                    throw b.Error("WarpGroup.Increase/DecreaseRegisters needs a constant multiple of 8 from 24 to 256");
                b.Emit($"setmaxnreg.{(i.Intrinsic == IntrinsicOp.WarpGroupIncreaseRegisters ? "inc" : "dec")}.sync.aligned.u32 {registers.Bits}");
                break;
            case IntrinsicOp.MBarrierInit: MBarrier(i, "init"); break;
            case IntrinsicOp.MBarrierArrive: MBarrier(i, "arrive"); break;
            case IntrinsicOp.MBarrierArriveExpectTransaction: MBarrier(i, "arrive.expect_tx"); break;
            case IntrinsicOp.MBarrierCompleteTransaction: MBarrier(i, "complete_tx"); break;
            case IntrinsicOp.MBarrierTryWaitParity: MBarrier(i, "try_wait.parity"); break;
            case IntrinsicOp.MmaF16: Mma(i, "m16n8k16", "f16"); break;
            case IntrinsicOp.MmaBF16: Mma(i, "m16n8k16", "bf16"); break;
            case IntrinsicOp.MmaTf32: Mma(i, "m16n8k8", "tf32"); break;
            case IntrinsicOp.LoadMatrix: LoadMatrix(i, ""); break;
            case IntrinsicOp.LoadMatrixTransposed: LoadMatrix(i, ".trans"); break;
            case IntrinsicOp.StoreMatrix: StoreMatrix(i, ""); break;
            case IntrinsicOp.StoreMatrixTransposed: StoreMatrix(i, ".trans"); break;
            case IntrinsicOp.PackHalf2: Pack(i, "f16x2"); break;
            case IntrinsicOp.PackBFloat162: Pack(i, "bf16x2"); break;
            case IntrinsicOp.RoundToTf32:
                RequireTensorCores(i);
                b.Emit($"cvt.rna.tf32.f32 {b.Def(i)}, {b.Reg(i.Operands[0])}");
                break;

            default:
                FloatMath(i);
                break;
        }
    }

    // ---- indices -----------------------------------------------------------------------------------

    private void Special(Instruction i, string source)
    {
        string d = b.Def(i);
        if (i.Type.Kind == TypeKind.Int32) b.Emit($"mov.u32 {d}, {source}");
        else if (i.Type.Kind == TypeKind.Int64)
        {
            string t = b.Temp(PtxRegisterClass.B32);
            b.Emit($"mov.u32 {t}, {source}");
            b.Emit($"cvt.u64.u32 {d}, {t}");
        }
        else throw b.Error($"{i.Intrinsic} of type {i.Type}");
    }

    // ---- warp shuffles -----------------------------------------------------------------------------

    /// <summary>shfl.sync.MODE.b32 d, a, b, c, 0xffffffff (c = 31 for idx/bfly/down, 0 for up). f32 payloads move through a b32 register.</summary>
    private void Shuffle(Instruction i, string mode, string clamp)
    {
        var type = i.Type;
        if (type.Size != 4) throw b.Error($"shuffle of {type} (32-bit payloads only)");
        string value = b.Reg(i.Operands[0]);
        string lane = b.Src(i.Operands[1]);
        if (type.Kind == TypeKind.Int32)
        {
            b.Emit($"shfl.sync.{mode}.b32 {b.Def(i)}, {value}, {lane}, {clamp}, -1");
            return;
        }
        string bits = b.Temp(PtxRegisterClass.B32), result = b.Temp(PtxRegisterClass.B32);
        b.Emit($"mov.b32 {bits}, {value}");
        b.Emit($"shfl.sync.{mode}.b32 {result}, {bits}, {lane}, {clamp}, -1");
        b.Emit($"mov.b32 {b.Def(i)}, {result}");
    }

    /// <summary>redux.sync.OP.s32 (or.b32) d, a, 0xffffffff on sm_80 and newer; before, a butterfly of five shuffles.</summary>
    private void WarpReduce(Instruction i, string op)
    {
        if (i.Type.Kind != TypeKind.Int32) throw b.Error($"{i.Intrinsic} of type {i.Type} (int only)");
        string value = b.Reg(i.Operands[0]), type = op == "or" ? "b32" : "s32";
        if (b.Target.SmVersion >= 80)
        {
            b.Emit($"redux.sync.{op}.{type} {b.Def(i)}, {value}, -1");
            return;
        }
        string accumulator = b.Temp(PtxRegisterClass.B32), other = b.Temp(PtxRegisterClass.B32);
        b.Emit($"mov.b32 {accumulator}, {value}");
        for (int mask = 16; mask > 0; mask /= 2)
        {
            b.Emit($"shfl.sync.bfly.b32 {other}, {accumulator}, {mask}, 31, -1");
            b.Emit($"{op}.{type} {accumulator}, {accumulator}, {other}");
        }
        b.Emit($"mov.b32 {b.Def(i)}, {accumulator}");
    }

    // ---- memory ------------------------------------------------------------------------------------

    private int ConstantCount(Instruction i)
    {
        if (i.Operands.Count == 0 || i.Operands[0] is not Constant c)
            throw b.Error($"{i.Intrinsic} needs a constant element count at code generation (specialize or use a const)");
        if (c.Bits < 0 || c.Bits > int.MaxValue) throw b.Error($"{i.Intrinsic} of {c.Bits} elements");
        return (int)c.Bits;
    }

    private int ElementSize(Instruction i)
        => i.ElementType is { } t && t.Size > 0 ? t.Size : throw b.Error($"{i.Intrinsic} without an element type");

    private void SharedAllocate(Instruction i)
    {
        int bytes = checked(ConstantCount(i) * ElementSize(i));
        int align = Math.Max(16, i.Alignment);
        string name = b.NewSharedName();
        b.ModuleDeclarations.Add($".shared .align {align} .b8 {name}[{Math.Max(1, bytes)}];");
        b.StaticSharedBytes = checked((b.StaticSharedBytes + align - 1) / align * align + bytes);
        E.AddressOfSymbol(b.Def(i), name, AddressSpace.Shared, i.Type.IsPointer ? i.Type.Space : AddressSpace.Shared);
    }

    private const string DynamicShared = "__dynamic_shared";

    private void SharedDynamic(Instruction i)
    {
        string d = b.Def(i);
        if (i.Type.Kind == TypeKind.Int32)
        {
            b.Emit($"mov.u32 {d}, %dynamic_smem_size");
            return;
        }
        if (i.Type.Kind == TypeKind.Int64)
        {
            string t = b.Temp(PtxRegisterClass.B32);
            b.Emit($"mov.u32 {t}, %dynamic_smem_size");
            b.Emit($"cvt.u64.u32 {d}, {t}");
            return;
        }
        if (!b.DynamicSharedDeclared)
        {
            b.DynamicSharedDeclared = true;
            b.ModuleDeclarations.Insert(0, $".extern .shared .align 16 .b8 {DynamicShared}[];");
        }
        E.AddressOfSymbol(d, DynamicShared, AddressSpace.Shared, i.Type.Space);
    }

    // ---- asynchronous copies ------------------------------------------------------------------------

    /// <summary>
    /// cp.async.cg.shared.global.L2::128B [dst], [src], 16, src-size: src-size 0 zero-fills without reading; a fetch
    /// known to be true takes the form without src-size. The L2 hint fetches whole 128-byte lines, as the rows of a
    /// tile are read; it is FlashAttention-2's form and measured neutral (H100: 1.003× forward, 0.999× backward; the
    /// backward's Q/dO copies take 24 L2 sectors and 10.5 shared wavefronts per warp instruction with it or without, FA2's
    /// 16 and 4 — ncu at 8810f77). Before sm_80 the same meaning synchronously (a predicated 16-byte load, then a store).
    /// </summary>
    private void AsyncCopy16(Instruction i)
    {
        string destination = AddressIn(i.Operands[0], AddressSpace.Shared);
        string source = AddressIn(i.Operands[1], AddressSpace.Global);
        if (b.Target.SmVersion >= 80)
        {
            if (i.Operands[2] is Constant { Bits: not 0 })
            {
                b.Emit($"cp.async.cg.shared.global.L2::128B {destination}, {source}, 16");
                return;
            }
            string bytes = b.Temp(PtxRegisterClass.B32);
            b.Emit($"selp.u32 {bytes}, 16, 0, {b.Reg(i.Operands[2])}");
            b.Emit($"cp.async.cg.shared.global.L2::128B {destination}, {source}, 16, {bytes}");
            return;
        }
        string fetch = b.Reg(i.Operands[2]);
        var words = Enumerable.Range(0, 4).Select(_ => b.Temp(PtxRegisterClass.B32)).ToArray();
        foreach (var w in words) b.Emit($"mov.b32 {w}, 0");
        b.Emit($"@{fetch} ld.global.v4.b32 {{{string.Join(", ", words)}}}, {source}");
        b.Emit($"st.shared.v4.b32 {destination}, {{{string.Join(", ", words)}}}");
    }

    /// <summary>The <c>[address]</c> of <paramref name="pointer"/> in <paramref name="space"/>, converting from generic when needed.</summary>
    private string AddressIn(Value pointer, AddressSpace space)
    {
        if (pointer.Type.Space == space) return E.Address(pointer);
        if (pointer.Type.Space != AddressSpace.Generic)
            throw b.Error($"{space} address expected, got a {pointer.Type.Space} pointer");
        string converted = b.Temp(PtxRegisterClass.B64);
        E.AddrSpaceCast(converted, b.Reg(pointer), AddressSpace.Generic, space);
        return $"[{converted}]";
    }

    /// <summary>A tensor map's generic address: a <see cref="TensorMap"/> kernel parameter (the PTX backend declares it as the
    /// 128-byte grid constant and defines its value as the parameter's generic address).</summary>
    private string TensorMapAddress(Value map)
    {
        if (map is not Parameter { ByValueBytes: > 0 })
            throw b.Error("TensorCopy needs the kernel's TensorMap parameter itself (passed with 'in'), not a copy of it");
        return b.Reg(map);
    }

    /// <summary>The bulk copies (cp.async.bulk), their fence and the mbarriers with transaction counts are sm_90 with PTX ISA
    /// 8.0; no lowering below that (kernels choose them by <c>AcceleratorInfo.HasBulkCopies</c>).</summary>
    private void RequireBulkCopies(Instruction i)
    {
        if (b.Target.SmVersion < 90 || (b.Target.IsaMajor, b.Target.IsaMinor).CompareTo((8, 0)) < 0)
            throw b.Error($"{i.Intrinsic} needs sm_90 and PTX ISA 8.0 or newer (target {b.Target.TargetName}, ISA {b.Target.IsaVersion})");
    }

    // ---- tensor cores ------------------------------------------------------------------------------

    private void RequireTensorCores(Instruction i)
    {
        if (b.Target.SmVersion < 80) throw b.Error($"{i.Intrinsic} needs sm_80 or newer (target {b.Target.TargetName})");
    }

    /// <summary>mma.sync.aligned.SHAPE.row.col.f32.T.T.f32 (m16n8k16 f16/bf16, m16n8k8 tf32) {d0..d3}, {a0..a3}, {b0, b1}, {c0..c3}: operands A (4 × b32),
    /// B (2 × b32), C (4 × f32) in that order; D into the Extracts' registers.</summary>
    private void Mma(Instruction i, string shape, string type)
    {
        RequireTensorCores(i);
        if (i.Operands.Count != 10) throw b.Error($"{i.Intrinsic} takes A (4 registers), B (2) and C (4)");
        var d = b.ComponentRegisters(i, 4, PtxRegisterClass.F32);
        var ops = i.Operands.Select(b.Reg).ToArray();
        b.Emit($"mma.sync.aligned.{shape}.row.col.f32.{type}.{type}.f32 {{{string.Join(", ", d)}}}, "
            + $"{{{ops[0]}, {ops[1]}, {ops[2]}, {ops[3]}}}, {{{ops[4]}, {ops[5]}}}, {{{ops[6]}, {ops[7]}, {ops[8]}, {ops[9]}}}");
    }

    /// <summary>mbarrier.OP.shared::cta.b64 [result, ] [barrier][, operand] (sm_90): the result (an arrival's token, a wait's
    /// predicate) where the intrinsic has one, the count, bytes or parity where it takes one.</summary>
    private void MBarrier(Instruction i, string operation)
    {
        RequireBulkCopies(i);
        string result = i.Type.Kind == TypeKind.Void ? "" : $"{b.Def(i)}, ";
        string operand = i.Operands.Count > 1 ? $", {b.Src(i.Operands[1])}" : "";
        b.Emit($"mbarrier.{operation}.shared::cta.b64 {result}{AddressIn(i.Operands[0], AddressSpace.Shared)}{operand}");
    }

    /// <summary>wgmma and setmaxnreg need sm_90a: an sm_90 target with PTX ISA 8.0 or newer, written as <c>.target sm_90a</c>.</summary>
    private void RequireWarpGroupMma(Instruction i)
    {
        if (b.Target.SmVersion != 90 || (b.Target.IsaMajor, b.Target.IsaMinor).CompareTo((8, 0)) < 0)
            throw b.Error($"{i.Intrinsic} needs sm_90a and PTX ISA 8.0 or newer (target {b.Target.TargetName}, ISA {b.Target.IsaVersion})");
        b.ArchitectureSpecific = true;
    }

    /// <summary>
    /// wgmma.mma_async.sync.aligned.m64nNk16.f32.T.T {d…}, a-desc, b-desc, p, 1, 1, tnsp-a, tnsp-b (or {a0…a3}, b-desc, p, 1, 1,
    /// tnsp-b with A in registers); operands as <see cref="IntrinsicFacts.WarpGroupMmaOperands"/>. The accumulators are
    /// moved into the result's registers first where they are not the same ones already (the instruction reads and writes
    /// one set; the writer chains a product's result into the registers of the accumulator it consumes,
    /// <c>ChainWarpGroupAccumulators</c>), and not at all for a product known not to accumulate, which reads none (copies
    /// after the fence would make ptxas serialise the stage).
    /// </summary>
    private void WarpGroupMma(Instruction i, string type)
    {
        RequireWarpGroupMma(i);
        var operands = IntrinsicFacts.WarpGroupMmaOperands(i);
        if (operands.Count < 4 || operands.Count > 128 || operands.Count % 4 != 0)
            throw b.Error($"{i.Intrinsic} takes N/2 accumulators for N = 8 … 256 in steps of 8, not {operands.Count}");
        if (i.Operands[operands.TransposeB] is not Constant transpose)
            throw b.Error($"{i.Intrinsic}: whether B is MN-major must be a constant");
        Constant? transposeA = operands.TransposeA < 0 ? null
            : i.Operands[operands.TransposeA] as Constant ?? throw b.Error($"{i.Intrinsic}: whether A is MN-major must be a constant");
        var d = b.ComponentRegisters(i, operands.Count, PtxRegisterClass.F32);
        bool reads = i.Operands[operands.Accumulate] is not Constant { Bits: 0 };
        for (int k = 0; k < operands.Count && reads; k++)
        {
            string c = b.Src(i.Operands[operands.First + k]);
            if (c != d[k]) b.Emit($"mov.f32 {d[k]}, {c}");
        }
        string accumulate;
        if (i.Operands[operands.Accumulate] is Constant flag)
        {
            accumulate = b.Temp(PtxRegisterClass.Pred);
            b.Emit($"setp.ne.u32 {accumulate}, {(flag.Bits != 0 ? 1 : 0)}, 0");
        }
        else accumulate = b.Reg(i.Operands[operands.Accumulate]);
        int transposeB = transpose.Bits != 0 ? 1 : 0;
        string a = operands.ARegisters == 1
            ? b.Src(i.Operands[operands.A])
            : $"{{{string.Join(", ", Enumerable.Range(operands.A, 4).Select(k => b.Reg(i.Operands[k])))}}}";
        string scalesAndTransposes = transposeA is not null ? $"1, 1, {(transposeA.Bits != 0 ? 1 : 0)}, {transposeB}" : $"1, 1, {transposeB}";
        b.Emit($"wgmma.mma_async.sync.aligned.m64n{2 * operands.Count}k16.f32.{type}.{type} {{{string.Join(", ", d)}}}, "
            + $"{a}, {b.Src(i.Operands[operands.B])}, {accumulate}, {scalesAndTransposes}");
    }

    /// <summary>The 32-bit shared-window address of a pointer: its low half when it is a shared pointer already, else
    /// cvta.to.shared first.</summary>
    private void SharedAddress(Instruction i)
    {
        var pointer = i.Operands[0];
        string wide;
        if (pointer.Type.Space == AddressSpace.Shared)
        {
            var (baseValue, offset) = PtxInstructionEmitter.Decompose(pointer);
            wide = b.Reg(baseValue);
            if (offset != 0)
            {
                string sum = b.Temp(PtxRegisterClass.B64);
                b.Emit($"add.s64 {sum}, {wide}, {offset.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
                wide = sum;
            }
        }
        else
        {
            if (pointer.Type.Space != AddressSpace.Generic) throw b.Error($"a shared address expected, got a {pointer.Type.Space} pointer");
            wide = b.Temp(PtxRegisterClass.B64);
            E.AddrSpaceCast(wide, b.Reg(pointer), AddressSpace.Generic, AddressSpace.Shared);
        }
        b.Emit($"cvt.u32.u64 {b.Def(i)}, {wide}");
    }

    /// <summary>ldmatrix.sync.aligned.m8n8.xN[.trans].shared.b16 {r…}, [row address]: N from the result (int, Int2, Int4).</summary>
    private void LoadMatrix(Instruction i, string transposed)
    {
        RequireTensorCores(i);
        string[] registers = i.Type.Kind == TypeKind.Int32
            ? [b.Def(i)]
            : b.ComponentRegisters(i, Frontend.TypeLayout.Of(i.Method!.ReturnType).Leaves.Count, PtxRegisterClass.B32);
        string address = AddressIn(i.Operands[0], AddressSpace.Shared);
        b.Emit($"ldmatrix.sync.aligned.m8n8.x{registers.Length}{transposed}.shared.b16 {{{string.Join(", ", registers)}}}, {address}");
    }

    /// <summary>
    /// stmatrix.sync.aligned.m8n8.xN[.trans].shared.b16 [row address], {r…}: N from the register operands after the address
    /// (x1, x2 or x4). stmatrix is new in sm_90 (PTX ISA 7.8); below that the plain form is lowered to what it does (each
    /// lane stores its own register j at the row address lane 8j + lane/4 gives, 4 bytes per column pair), so that kernels
    /// using it still run on an A100.
    /// </summary>
    private void StoreMatrix(Instruction i, string transposed)
    {
        int count = i.Operands.Count - 1;
        if (count is not (1 or 2 or 4)) throw b.Error($"{i.Intrinsic} takes a row address and 1, 2 or 4 registers, not {count}");
        var registers = i.Operands.Skip(1).Select(b.Reg).ToArray();
        if (b.Target.SmVersion >= 90 && (b.Target.IsaMajor, b.Target.IsaMinor).CompareTo((7, 8)) >= 0)
        {
            string address = AddressIn(i.Operands[0], AddressSpace.Shared);
            b.Emit($"stmatrix.sync.aligned.m8n8.x{count}{transposed}.shared.b16 {address}, {{{string.Join(", ", registers)}}}");
            return;
        }
        if (transposed.Length > 0)
            throw b.Error($"{i.Intrinsic} needs sm_90 and PTX ISA 7.8 or newer (target {b.Target.TargetName}, ISA {b.Target.IsaVersion})");
        StoreMatrixByShuffles(i.Operands[0], registers);
    }

    /// <summary>stmatrix without the instruction: lane l's register j is row l/4, columns 2(l % 4) and 2(l % 4) + 1 of
    /// matrix j, whose row r lane 8j + r addresses; one shuffle of the row address and one 32-bit shared store per register.</summary>
    private void StoreMatrixByShuffles(Value pointer, string[] registers)
    {
        if (pointer.Type.Space != AddressSpace.Shared) throw b.Error($"stmatrix stores to shared memory, not {pointer.Type.Space}");
        var (baseValue, offset) = PtxInstructionEmitter.Decompose(pointer);
        bool wide = PtxRegisters.ClassOf(baseValue.Type) == PtxRegisterClass.B64;
        string lane = b.Temp(PtxRegisterClass.B32), row = b.Temp(PtxRegisterClass.B32), column = b.Temp(PtxRegisterClass.B32);
        string address = b.Temp(PtxRegisterClass.B32);
        b.Emit($"mov.u32 {lane}, %laneid");
        b.Emit($"shr.u32 {row}, {lane}, 2");
        b.Emit($"and.b32 {column}, {lane}, 3");
        b.Emit($"shl.b32 {column}, {column}, 2");
        b.Emit(wide ? $"cvt.u32.u64 {address}, {b.Reg(baseValue)}" : $"mov.b32 {address}, {b.Reg(baseValue)}");
        if (offset != 0) b.Emit($"add.u32 {address}, {address}, {offset.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        for (int j = 0; j < registers.Length; j++)
        {
            string source = b.Temp(PtxRegisterClass.B32), rowAddress = b.Temp(PtxRegisterClass.B32);
            b.Emit($"add.u32 {source}, {row}, {8 * j}");
            b.Emit($"shfl.sync.idx.b32 {rowAddress}, {address}, {source}, 31, -1");
            b.Emit($"add.u32 {rowAddress}, {rowAddress}, {column}");
            if (wide)
            {
                string rowAddress64 = b.Temp(PtxRegisterClass.B64);
                b.Emit($"cvt.u64.u32 {rowAddress64}, {rowAddress}");
                rowAddress = rowAddress64;
            }
            b.Emit($"st.shared.b32 [{rowAddress}], {registers[j]}");
        }
    }

    /// <summary>cvt.rn.T.f32 d, high, low: PTX puts the first source in the upper half.</summary>
    private void Pack(Instruction i, string type)
    {
        RequireTensorCores(i);
        b.Emit($"cvt.rn.{type}.f32 {b.Def(i)}, {b.Reg(i.Operands[1])}, {b.Reg(i.Operands[0])}");
    }

    // ---- atomics -----------------------------------------------------------------------------------

    /// <summary>atom{.space}.OP.TYPE d, [a], b (, c): the space from operand 0's pointer type.</summary>
    private void Atomic(Instruction i, string op)
    {
        var pointer = i.Operands[0];
        if (pointer.Type.Space == AddressSpace.Local) throw b.Error("atomics on per-thread (local) memory");
        var valueType = i.Operands[1].Type;
        string space = PtxInstructionEmitter.Space(pointer.Type);
        string address = E.Address(pointer);
        bool isFloat = valueType.IsFloat;
        int bits = valueType.Size * 8;
        if (bits != 32 && bits != 64) throw b.Error($"atomic {op} on {valueType}");
        string type = op switch
        {
            "add" => isFloat ? (bits == 32 ? ".f32" : ".f64") : ".u" + bits,
            "max" or "min" => isFloat
                ? throw b.Error($"atomic {op} on {valueType}")
                : (IsUnsignedOverload(i) ? ".u" : ".s") + bits,
            _ => ".b" + bits,
        };
        if (isFloat && op is "exch" or "cas")
        {
            // Bitwise atomics on float payloads go through integer registers.
            var cls = bits == 32 ? PtxRegisterClass.B32 : PtxRegisterClass.B64;
            string result = b.Temp(cls);
            var operands = i.Operands.Skip(1).Select(v =>
            {
                string r = b.Temp(cls);
                b.Emit($"mov.b{bits} {r}, {b.Reg(v)}");
                return r;
            }).ToList();
            b.Emit($"atom{space}.{op}{type} {result}, {address}, {string.Join(", ", operands)}");
            b.Emit($"mov.b{bits} {b.Def(i)}, {result}");
            return;
        }
        string args = string.Join(", ", i.Operands.Skip(1).Select(b.Reg));
        b.Emit($"atom{space}.{op}{type} {b.Def(i)}, {address}, {args}");
    }

    /// <summary>
    /// red.global.add.v4.f32 [a], {x, y, z, w} (or .v2 with two values) where the target has it (sm_90, PTX 8.1), else one
    /// red.global.add.f32 per value at a, a+4, …. The vector forms exist for global memory only.
    /// </summary>
    private void AtomicAddVector(Instruction i, int count)
    {
        string name = count == 4 ? "Atomic.AddFour" : "Atomic.AddTwo";
        if (i.Operands.Count != count + 1 || i.Operands[0].Type.Kind != TypeKind.Pointer
            || i.Operands.Skip(1).Any(value => value.Type != IRType.Float32))
            throw b.Error($"{name} takes an fp32 address and {count} fp32 values");
        var pointer = i.Operands[0];
        if (pointer.Type.Space is not (AddressSpace.Global or AddressSpace.Generic))
            throw b.Error($"{name} on {pointer.Type.Space} memory (device memory only)");
        var values = i.Operands.Skip(1).Select(b.Reg).ToArray();
        var target = b.Target;
        if (target.SmVersion >= 90 && (target.IsaMajor, target.IsaMinor).CompareTo((8, 1)) >= 0)
        {
            b.Emit($"red.global.add.v{count}.f32 {AddressIn(pointer, AddressSpace.Global)}, {{{string.Join(", ", values)}}}");
            return;
        }
        string baseRegister;
        long offset = 0;
        if (pointer.Type.Space == AddressSpace.Global)
        {
            var (baseValue, baseOffset) = PtxInstructionEmitter.Decompose(pointer);
            (baseRegister, offset) = (b.Reg(baseValue), baseOffset);
        }
        else
        {
            baseRegister = b.Temp(PtxRegisterClass.B64);
            E.AddrSpaceCast(baseRegister, b.Reg(pointer), AddressSpace.Generic, AddressSpace.Global);
        }
        for (int k = 0; k < count; k++)
            b.Emit($"red.global.add.f32 {PtxInstructionEmitter.AddressOf(baseRegister, offset + 4 * k)}, {values[k]}");
    }

    /// <summary>True when the model method takes uint/ulong (integers are signless in the IR).</summary>
    private static bool IsUnsignedOverload(Instruction i)
    {
        var parameters = i.Method?.GetParameters();
        if (parameters is null || parameters.Length == 0) return false;
        var t = parameters[^1].ParameterType;
        if (t.IsByRef) t = t.GetElementType()!;
        return t == typeof(uint) || t == typeof(ulong) || t == typeof(ushort) || t == typeof(byte);
    }

    // ---- bit casts and tests -----------------------------------------------------------------------

    private void BitCast(Instruction i)
    {
        var from = i.Operands[0].Type;
        if (from.Size != i.Type.Size) throw b.Error($"bit cast {from} → {i.Type} of different sizes");
        b.Emit($"mov.b{i.Type.Size * 8} {b.Def(i)}, {b.Reg(i.Operands[0])}");
    }

    private void Test(Instruction i, string test)
    {
        var (ft, a) = FloatOperand(i.Operands[0]);
        b.Emit($"testp.{test}{ft} {b.Def(i)}, {a}");
    }

    /// <summary>The operand as a register of f32 or f64 (f16/bf16 widened to f32).</summary>
    private (string Type, string Register) FloatOperand(Value v)
    {
        if (v.Type.Kind == TypeKind.Float64) return (".f64", b.Reg(v));
        if (v.Type.Kind == TypeKind.Float32) return (".f32", b.Reg(v));
        if (PtxInstructionEmitter.IsHalf(v.Type))
        {
            string t = b.Temp(PtxRegisterClass.F32);
            E.Convert(t, v, IRType.Float32, false);
            return (".f32", t);
        }
        throw b.Error($"float operation on {v.Type}");
    }

    // ---- min, max, abs -----------------------------------------------------------------------------

    /// <summary>
    /// Integers: min/max.s|u by the model overload. Floats follow .NET (NaN if either operand is NaN):
    /// <c>min.NaN.f32</c> on sm_80+, else min then a NaN fix-up (setp.nan); f64 always uses the fix-up.
    /// </summary>
    private void MinMax(Instruction i)
    {
        string op = i.Intrinsic == IntrinsicOp.Min ? "min" : "max";
        var t = i.Type;
        string d = b.Def(i);
        if (t.IsInteger)
        {
            string signedness = IsUnsignedOverload(i) ? ".u" : ".s";
            string x = t.Kind == TypeKind.Int8 ? E.IntOperand(i.Operands[0], signedness == ".s") : b.Reg(i.Operands[0]);
            if (x[0] != '%') x = b.Reg(i.Operands[0]);
            string y = t.Kind == TypeKind.Int8 ? E.IntOperand(i.Operands[1], signedness == ".s") : b.Src(i.Operands[1]);
            b.Emit($"{op}{signedness}{PtxInstructionEmitter.RegBits(t)} {d}, {x}, {y}");
            return;
        }
        WithFloat(i, (ft, dst, args) =>
        {
            if (ft == ".f32" && b.Target.SmVersion >= 80)
            {
                b.Emit($"{op}.NaN.f32 {dst}, {args[0]}, {args[1]}");
                return;
            }
            var cls = ft == ".f32" ? PtxRegisterClass.F32 : PtxRegisterClass.F64;
            string m = b.Temp(cls), sum = b.Temp(cls), nan = b.Temp(PtxRegisterClass.Pred);
            b.Emit($"{op}{ft} {m}, {args[0]}, {args[1]}");
            b.Emit($"setp.nan{ft} {nan}, {args[0]}, {args[1]}");
            b.Emit($"add.rn{ft} {sum}, {args[0]}, {args[1]}");
            b.Emit($"selp{ft} {dst}, {sum}, {m}, {nan}");
        });
    }

    private void Abs(Instruction i)
    {
        var t = i.Type;
        if (t.IsInteger)
        {
            string x = t.Kind == TypeKind.Int8 ? E.IntOperand(i.Operands[0], true) : b.Reg(i.Operands[0]);
            if (x[0] != '%') x = b.Reg(i.Operands[0]);
            b.Emit($"abs.s{PtxInstructionEmitter.RegBits(t)} {b.Def(i)}, {x}");
            return;
        }
        WithFloat(i, (ft, dst, args) => b.Emit($"abs{ft} {dst}, {args[0]}"));
    }

    /// <summary>The bit counts of a 32- or 64-bit integer, an int result: popc and clz are PTX's; the trailing zeros are the
    /// leading zeros of the bits reversed (brev), the operand's width for 0 as BitOperations'.</summary>
    private void BitCount(Instruction i)
    {
        var kind = i.Operands[0].Type.Kind;
        if (i.Type.Kind != TypeKind.Int32 || kind is not (TypeKind.Int32 or TypeKind.Int64))
            throw b.Error($"{i.Intrinsic} of type {i.Operands[0].Type} (32- and 64-bit integers only)");
        string x = b.Reg(i.Operands[0]), bits = kind == TypeKind.Int64 ? "b64" : "b32";
        switch (i.Intrinsic)
        {
            case IntrinsicOp.PopCount: b.Emit($"popc.{bits} {b.Def(i)}, {x}"); break;
            case IntrinsicOp.LeadingZeroCount: b.Emit($"clz.{bits} {b.Def(i)}, {x}"); break;
            default:
                string reversed = b.Temp(kind == TypeKind.Int64 ? PtxRegisterClass.B64 : PtxRegisterClass.B32);
                b.Emit($"brev.{bits} {reversed}, {x}");
                b.Emit($"clz.{bits} {b.Def(i)}, {reversed}");
                break;
        }
    }

    // ---- float math --------------------------------------------------------------------------------

    /// <summary>
    /// Runs <paramref name="body"/> with the operands as f32/f64 registers and a destination register of that
    /// type; f16/bf16 results are rounded back. The type comes from operand 0.
    /// </summary>
    private void WithFloat(Instruction i, Action<string, string, string[]> body)
    {
        var operands = i.Operands.Select(FloatOperand).ToArray();
        string ft = operands.Length > 0 ? operands[0].Type : throw b.Error($"{i.Intrinsic} without operands");
        string[] args = operands.Select(o => o.Register).ToArray();
        if (PtxInstructionEmitter.IsHalf(i.Type))
        {
            string r = b.Temp(PtxRegisterClass.F32);
            body(ft, r, args);
            E.NarrowFromF32(b.Def(i), r, i.Type.Kind);
        }
        else body(ft, b.Def(i), args);
    }

    private void FloatMath(Instruction i)
    {
        var op = i.Intrinsic;
        WithFloat(i, (ft, d, a) =>
        {
            bool f64 = ft == ".f64";
            switch (op)
            {
                case IntrinsicOp.Sqrt: b.Emit($"sqrt.rn{ft} {d}, {a[0]}"); return;
                case IntrinsicOp.Rsqrt:
                {
                    string s = b.Temp(f64 ? PtxRegisterClass.F64 : PtxRegisterClass.F32);
                    b.Emit($"sqrt.rn{ft} {s}, {a[0]}");
                    b.Emit($"rcp.rn{ft} {d}, {s}");
                    return;
                }
                case IntrinsicOp.Fma: b.Emit($"fma.rn{ft} {d}, {a[0]}, {a[1]}, {a[2]}"); return;
                // C# CopySign(x, y) = |x| with y's sign; PTX copysign d, a, b copies a's sign onto b.
                case IntrinsicOp.CopySign: b.Emit($"copysign{ft} {d}, {a[1]}, {a[0]}"); return;
                case IntrinsicOp.Floor: b.Emit($"cvt.rmi{ft}{ft} {d}, {a[0]}"); return;
                case IntrinsicOp.Ceiling: b.Emit($"cvt.rpi{ft}{ft} {d}, {a[0]}"); return;
                case IntrinsicOp.Round: b.Emit($"cvt.rni{ft}{ft} {d}, {a[0]}"); return; // ties to even, as Math.Round
                case IntrinsicOp.Truncate: b.Emit($"cvt.rzi{ft}{ft} {d}, {a[0]}"); return;
            }
            if (f64) throw b.Error($"f64 {op} is not supported on the GPU");
            switch (op)
            {
                case IntrinsicOp.Exp: Exp(d, a[0]); return;
                case IntrinsicOp.Exp2: b.Emit($"ex2.approx.f32 {d}, {a[0]}"); return;
                case IntrinsicOp.Log2: b.Emit($"lg2.approx.f32 {d}, {a[0]}"); return;
                case IntrinsicOp.Log:
                {
                    string l = b.Temp(PtxRegisterClass.F32);
                    b.Emit($"lg2.approx.f32 {l}, {a[0]}");
                    b.Emit($"mul.rn.f32 {d}, {l}, {PtxCodeBuilder.F32(Ln2)}");
                    return;
                }
                case IntrinsicOp.Tanh: Tanh(d, a[0]); return;
                case IntrinsicOp.Sin: b.Emit($"sin.approx.f32 {d}, {a[0]}"); return;
                case IntrinsicOp.Cos: b.Emit($"cos.approx.f32 {d}, {a[0]}"); return;
                case IntrinsicOp.Pow: Pow(d, a[0], a[1]); return;
                case IntrinsicOp.FastExp:
                {
                    string t = b.Temp(PtxRegisterClass.F32);
                    b.Emit($"mul.ftz.f32 {t}, {a[0]}, {PtxCodeBuilder.F32(Log2E)}");
                    b.Emit($"ex2.approx.ftz.f32 {d}, {t}");
                    return;
                }
                case IntrinsicOp.FastExp2: b.Emit($"ex2.approx.ftz.f32 {d}, {a[0]}"); return;
                case IntrinsicOp.FastLog:
                {
                    string l = b.Temp(PtxRegisterClass.F32);
                    b.Emit($"lg2.approx.ftz.f32 {l}, {a[0]}");
                    b.Emit($"mul.ftz.f32 {d}, {l}, {PtxCodeBuilder.F32(Ln2)}");
                    return;
                }
                case IntrinsicOp.FastLog2: b.Emit($"lg2.approx.ftz.f32 {d}, {a[0]}"); return;
                case IntrinsicOp.FastRsqrt: b.Emit($"rsqrt.approx.ftz.f32 {d}, {a[0]}"); return;
                case IntrinsicOp.FastTanh:
                    if (b.Target.SmVersion >= 75) b.Emit($"tanh.approx.f32 {d}, {a[0]}");
                    else Tanh(d, a[0]);
                    return;
                case IntrinsicOp.FastReciprocal: b.Emit($"rcp.approx.ftz.f32 {d}, {a[0]}"); return;
                // div.full: about 2 ulp over the whole range (div.approx fails for divisors beyond 2^126).
                case IntrinsicOp.FastDivide: b.Emit($"div.full.ftz.f32 {d}, {a[0]}, {a[1]}"); return;
            }
            throw b.Error($"intrinsic {op} has no PTX lowering");
        });
    }

    private string F() => b.Temp(PtxRegisterClass.F32);

    /// <summary>e^x ≈ 2^h · 2^l, h = rn(x·log2e), l = x·log2e - h computed exactly enough with fma (see the class remarks).</summary>
    private void Exp(string d, string x)
    {
        const float log2eHi = (float)Log2E;
        double log2eLo = Log2E - log2eHi;
        string h = F(), nh = F(), l = F(), l2 = F(), eh = F(), el = F();
        string finite = b.Temp(PtxRegisterClass.Pred);
        b.Emit($"mul.rn.f32 {h}, {x}, {PtxCodeBuilder.F32(log2eHi)}");
        b.Emit($"neg.f32 {nh}, {h}");
        b.Emit($"fma.rn.f32 {l}, {x}, {PtxCodeBuilder.F32(log2eHi)}, {nh}");
        b.Emit($"fma.rn.f32 {l}, {x}, {PtxCodeBuilder.F32(log2eLo)}, {l}");
        // ±inf / NaN h: the remainder is meaningless (inf - inf); use 2^h alone.
        b.Emit($"testp.finite.f32 {finite}, {h}");
        b.Emit($"selp.f32 {l2}, {l}, {PtxCodeBuilder.F32(0)}, {finite}");
        b.Emit($"ex2.approx.f32 {eh}, {h}");
        b.Emit($"ex2.approx.f32 {el}, {l2}");
        b.Emit($"mul.rn.f32 {d}, {eh}, {el}");
    }

    /// <summary>tanh: Taylor polynomial near 0, 1 - 2/(e^{2|x|}+1) elsewhere (see the class remarks).</summary>
    private void Tanh(string d, string x)
    {
        // Small |x|: x + x·x²·(c3 + x²·(c5 + x²·(c7 + x²·(c9 + x²·c11)))).
        string x2 = F(), p = F(), small = F();
        b.Emit($"mul.rn.f32 {x2}, {x}, {x}");
        b.Emit($"mov.f32 {p}, {PtxCodeBuilder.F32(-1382.0 / 155925.0)}");
        foreach (double c in new[] { 62.0 / 2835.0, -17.0 / 315.0, 2.0 / 15.0, -1.0 / 3.0 })
            b.Emit($"fma.rn.f32 {p}, {p}, {x2}, {PtxCodeBuilder.F32(c)}");
        b.Emit($"mul.rn.f32 {p}, {p}, {x2}");
        b.Emit($"fma.rn.f32 {small}, {p}, {x}, {x}");
        // Large |x|: 1 - 2/(e^{2|x|} + 1), sign of x.
        string ax = F(), twoAx = F(), e = F(), e1 = F(), q = F(), large = F(), signed = F();
        b.Emit($"abs.f32 {ax}, {x}");
        b.Emit($"add.rn.f32 {twoAx}, {ax}, {ax}");
        Exp(e, twoAx);
        b.Emit($"add.rn.f32 {e1}, {e}, {PtxCodeBuilder.F32(1)}");
        b.Emit($"div.rn.f32 {q}, {PtxCodeBuilder.F32(2)}, {e1}");
        b.Emit($"sub.rn.f32 {large}, {PtxCodeBuilder.F32(1)}, {q}");
        b.Emit($"copysign.f32 {signed}, {x}, {large}");
        string isSmall = b.Temp(PtxRegisterClass.Pred);
        b.Emit($"setp.lt.f32 {isSmall}, {ax}, {PtxCodeBuilder.F32(0.3)}");
        b.Emit($"selp.f32 {d}, {small}, {signed}, {isSmall}");
    }

    /// <summary>x^y = 2^(y·log2|x|) with C#'s special cases (see the class remarks).</summary>
    private void Pow(string d, string x, string y)
    {
        string ax = F(), l = F(), t = F(), r = F(), negR = F(), yt = F(), half = F(), halfT = F(), nan = F(), r2 = F(), r3 = F();
        b.Emit($"abs.f32 {ax}, {x}");
        b.Emit($"lg2.approx.f32 {l}, {ax}");
        b.Emit($"mul.rn.f32 {t}, {y}, {l}");
        b.Emit($"ex2.approx.f32 {r}, {t}");
        // Negative x: NaN unless y is an integer; negative result when y is odd.
        string xNeg = b.Temp(PtxRegisterClass.Pred), yInt = b.Temp(PtxRegisterClass.Pred), yOdd = b.Temp(PtxRegisterClass.Pred);
        b.Emit($"setp.lt.f32 {xNeg}, {x}, {PtxCodeBuilder.F32(0)}");
        b.Emit($"cvt.rzi.f32.f32 {yt}, {y}");
        b.Emit($"setp.eq.f32 {yInt}, {yt}, {y}");
        b.Emit($"mul.rn.f32 {half}, {y}, {PtxCodeBuilder.F32(0.5)}");
        b.Emit($"cvt.rzi.f32.f32 {halfT}, {half}");
        b.Emit($"setp.neu.f32 {yOdd}, {halfT}, {half}");
        b.Emit($"neg.f32 {negR}, {r}");
        b.Emit($"selp.f32 {r2}, {negR}, {r}, {yOdd}");
        b.Emit($"mov.f32 {nan}, 0f7FFFFFFF");
        b.Emit($"selp.f32 {r3}, {r2}, {nan}, {yInt}");
        string pick = F();
        b.Emit($"selp.f32 {pick}, {r3}, {r}, {xNeg}");
        // y == 0 or x == 1 → 1 (even for NaN operands, as Math.Pow).
        string one = b.Temp(PtxRegisterClass.Pred), xOne = b.Temp(PtxRegisterClass.Pred);
        b.Emit($"setp.eq.f32 {one}, {y}, {PtxCodeBuilder.F32(0)}");
        b.Emit($"setp.eq.f32 {xOne}, {x}, {PtxCodeBuilder.F32(1)}");
        b.Emit($"or.pred {one}, {one}, {xOne}");
        b.Emit($"selp.f32 {d}, {PtxCodeBuilder.F32(1)}, {pick}, {one}");
    }
}
