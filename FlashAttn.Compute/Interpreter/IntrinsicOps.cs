using FlashAttn.Compute.IR;
using FlashAttn.Compute.Runtime.Cpu;
using static FlashAttn.Compute.Interpreter.RegisterEncoding;

namespace FlashAttn.Compute.Interpreter;

/// <summary>
/// Compiles <see cref="Opcode.Intrinsic"/> instructions: special registers, barriers and shuffles through
/// the thread's <see cref="CpuContext"/>, atomics on raw addresses, and math with the same functions as
/// the model's managed bodies (<see cref="XMath"/>).
/// </summary>
internal static unsafe class IntrinsicOps
{
    /// <summary>The operation for <paramref name="i"/>, whose result goes to register <paramref name="d"/> and whose operands are in <paramref name="s"/>.</summary>
    public static InterpreterOp Compile(Instruction i, int d, int[] s)
    {
        var op = i.Intrinsic;
        TypeKind result = i.Type.Kind;
        switch (op)
        {
            case IntrinsicOp.ThreadIdxX: return f => f.R[d] = f.Context.ThreadIndex.X;
            case IntrinsicOp.ThreadIdxY: return f => f.R[d] = f.Context.ThreadIndex.Y;
            case IntrinsicOp.ThreadIdxZ: return f => f.R[d] = f.Context.ThreadIndex.Z;
            case IntrinsicOp.GroupDimX: return f => f.R[d] = f.Context.GroupDim.X;
            case IntrinsicOp.GroupDimY: return f => f.R[d] = f.Context.GroupDim.Y;
            case IntrinsicOp.GroupDimZ: return f => f.R[d] = f.Context.GroupDim.Z;
            case IntrinsicOp.GroupIdxX: return f => f.R[d] = f.Context.GroupIndex.X;
            case IntrinsicOp.GroupIdxY: return f => f.R[d] = f.Context.GroupIndex.Y;
            case IntrinsicOp.GroupIdxZ: return f => f.R[d] = f.Context.GroupIndex.Z;
            case IntrinsicOp.GridDimX: return f => f.R[d] = f.Context.GridDim.X;
            case IntrinsicOp.GridDimY: return f => f.R[d] = f.Context.GridDim.Y;
            case IntrinsicOp.GridDimZ: return f => f.R[d] = f.Context.GridDim.Z;
            case IntrinsicOp.LaneIdx: return f => f.R[d] = f.Context.LaneIndex;
            case IntrinsicOp.WarpSize: return f => f.R[d] = 32;

            case IntrinsicOp.Barrier: return f => f.Context.Barrier();
            case IntrinsicOp.WarpBarrier: return f => f.Context.WarpBarrier();
            case IntrinsicOp.BarrierPopCount:
                return f => f.R[d] = f.Context.BarrierReduce(f.R[s[0]] != 0 ? 1 : 0, BarrierReduction.Count);
            case IntrinsicOp.BarrierAnd:
                return f => f.R[d] = f.Context.BarrierReduce(f.R[s[0]] != 0 ? 1 : 0, BarrierReduction.And) != 0 ? 1 : 0;
            case IntrinsicOp.BarrierOr:
                return f => f.R[d] = f.Context.BarrierReduce(f.R[s[0]] != 0 ? 1 : 0, BarrierReduction.Or) != 0 ? 1 : 0;
            case IntrinsicOp.MemoryFenceGroup or IntrinsicOp.MemoryFenceDevice: return _ => Interlocked.MemoryBarrier();

            case IntrinsicOp.ShuffleIdx: return Shuffle(d, s, ShuffleMode.Index, result);
            case IntrinsicOp.ShuffleXor: return Shuffle(d, s, ShuffleMode.Xor, result);
            case IntrinsicOp.ShuffleUp: return Shuffle(d, s, ShuffleMode.Up, result);
            case IntrinsicOp.ShuffleDown: return Shuffle(d, s, ShuffleMode.Down, result);
            case IntrinsicOp.WarpReduceAdd: return f => f.R[d] = Normalize(result, f.Context.WarpReduce((int)f.R[s[0]], WarpReduction.Add));
            case IntrinsicOp.WarpReduceMin: return f => f.R[d] = Normalize(result, f.Context.WarpReduce((int)f.R[s[0]], WarpReduction.Min));
            case IntrinsicOp.WarpReduceMax: return f => f.R[d] = Normalize(result, f.Context.WarpReduce((int)f.R[s[0]], WarpReduction.Max));
            case IntrinsicOp.WarpReduceOr: return f => f.R[d] = Normalize(result, f.Context.WarpReduce((int)f.R[s[0]], WarpReduction.Or));
            case IntrinsicOp.WarpBallot:
                return f => f.R[d] = Normalize(result, f.Context.WarpReduce(f.R[s[0]] != 0 ? 1 << f.Context.LaneIndex : 0, WarpReduction.Add));

            // Static allocations are made once per activation (a register holding 0 means "not yet"), so an
            // allocation inside a loop is one array, as on the GPU.
            case IntrinsicOp.SharedAllocate:
            {
                int size = ElementSize(i);
                return f =>
                {
                    if (f.R[d] == 0) f.R[d] = f.Context.AllocateShared(checked((int)f.R[s[0]] * size), 16);
                };
            }
            case IntrinsicOp.LocalAllocate:
            {
                int size = ElementSize(i);
                return f =>
                {
                    if (f.R[d] == 0) f.R[d] = f.Context.AllocateLocal(checked((int)f.R[s[0]] * size), 16);
                };
            }
            case IntrinsicOp.SharedDynamic:
                return i.Type.IsPointer
                    ? f => f.R[d] = f.Context.DynamicShared
                    : f => f.R[d] = f.Context.DynamicSharedBytes;
            case IntrinsicOp.CpuBoundsCheck: return _ => { };

            case IntrinsicOp.AtomicAdd or IntrinsicOp.AtomicMax or IntrinsicOp.AtomicMin
                or IntrinsicOp.AtomicExchange or IntrinsicOp.AtomicCompareExchange:
                return Atomic(i, d, s);

            case IntrinsicOp.AtomicAddTwo:
                return f => FlashAttn.Compute.Atomic.AddTwo(ref *(float*)f.R[s[0]], F32(f.R[s[1]]), F32(f.R[s[2]]));
            case IntrinsicOp.AtomicAddFour:
                return f => FlashAttn.Compute.Atomic.AddFour(ref *(float*)f.R[s[0]],
                    F32(f.R[s[1]]), F32(f.R[s[2]]), F32(f.R[s[3]]), F32(f.R[s[4]]));

            case IntrinsicOp.AsyncCopy16:
                return f => f.Context.AsyncCopies.Issue((nint)f.R[s[0]], f.R[s[2]] != 0 ? *(Float4*)f.R[s[1]] : default);
            case IntrinsicOp.AsyncCopyWaitAll: return f => f.Context.AsyncCopies.WaitAll();
            case IntrinsicOp.AsyncCopyCommit: return f => f.Context.AsyncCopies.Commit();
            case IntrinsicOp.AsyncCopyWaitGroup: return f => f.Context.AsyncCopies.Wait((int)f.R[s[0]]);
            case IntrinsicOp.BulkReduceAdd:
                return f => f.Context.BulkCopies.IssueReduceAdd((nint)f.R[s[0]], (nint)f.R[s[1]], (int)f.R[s[2]]);
            case IntrinsicOp.BulkLoad:
                return f => Runtime.Cpu.CpuBulkCopies.Load((nint)f.R[s[0]], (nint)f.R[s[1]], (int)f.R[s[2]], ref *(ulong*)f.R[s[3]]);
            case IntrinsicOp.TensorLoad:
            {
                // operands: destination, the map's address, the coordinates, the barrier
                int coordinates = s.Length - 3;
                return f =>
                {
                    Span<int> at = stackalloc int[coordinates];
                    for (int c = 0; c < coordinates; c++) at[c] = (int)f.R[s[2 + c]];
                    Runtime.Cpu.CpuTensorCopies.Load((nint)f.R[s[0]], in *(TensorMap*)f.R[s[1]], at, ref *(ulong*)f.R[s[^1]]);
                };
            }
            case IntrinsicOp.BulkCommit: return f => f.Context.BulkCopies.Commit();
            case IntrinsicOp.BulkWaitRead or IntrinsicOp.BulkWait:
                return f => f.Context.BulkCopies.Wait((int)f.R[s[0]]);
            case IntrinsicOp.FenceProxyAsyncShared: return _ => { };

            // Tensor cores: d is the first of the aggregate's registers (see CompiledFunction).
            case IntrinsicOp.MmaF16 or IntrinsicOp.MmaBF16 or IntrinsicOp.MmaTf32:
            {
                var inputs = op switch
                {
                    IntrinsicOp.MmaF16 => TensorCore.MmaInputs.Float16,
                    IntrinsicOp.MmaBF16 => TensorCore.MmaInputs.BFloat16,
                    _ => TensorCore.MmaInputs.TensorFloat32,
                };
                return f =>
                {
                    var r = f.R;
                    var result = TensorCore.MultiplyAddOnCpu(f.Context,
                        new Int4((int)r[s[0]], (int)r[s[1]], (int)r[s[2]], (int)r[s[3]]), new Int2((int)r[s[4]], (int)r[s[5]]),
                        new Float4(F32(r[s[6]]), F32(r[s[7]]), F32(r[s[8]]), F32(r[s[9]])), inputs);
                    r[d] = FromF32(result.X);
                    r[d + 1] = FromF32(result.Y);
                    r[d + 2] = FromF32(result.Z);
                    r[d + 3] = FromF32(result.W);
                };
            }
            case IntrinsicOp.WarpGroupFence or IntrinsicOp.WarpGroupCommit or IntrinsicOp.WarpGroupWait
                or IntrinsicOp.WarpGroupIncreaseRegisters or IntrinsicOp.WarpGroupDecreaseRegisters: return _ => { };
            case IntrinsicOp.WarpGroupMmaF16 or IntrinsicOp.WarpGroupMmaBF16 or IntrinsicOp.WarpGroupMmaRegisterAF16 or IntrinsicOp.WarpGroupMmaRegisterABF16:
            {
                // operands as IntrinsicFacts.WarpGroupMmaOperands; d the first result register
                var inputs = op is IntrinsicOp.WarpGroupMmaF16 or IntrinsicOp.WarpGroupMmaRegisterAF16
                    ? TensorCore.MmaInputs.Float16 : TensorCore.MmaInputs.BFloat16;
                var operands = IntrinsicFacts.WarpGroupMmaOperands(i);
                return f =>
                {
                    var r = f.R;
                    Span<float> accumulators = stackalloc float[operands.Count];
                    for (int k = 0; k < operands.Count; k++) accumulators[k] = F32(r[s[operands.First + k]]);
                    int first = operands.A;
                    var a = operands.ARegisters == 1
                        ? WarpGroupMma.SharedA(f.Context, (ulong)r[s[first]], inputs, r[s[operands.TransposeA]] != 0)
                        : WarpGroupMma.RegisterA(f.Context, new Int4((int)r[s[first]], (int)r[s[first + 1]], (int)r[s[first + 2]], (int)r[s[first + 3]]), inputs);
                    WarpGroupMma.MultiplyAddOnCpu(f.Context, a, (ulong)r[s[operands.B]], r[s[operands.TransposeB]] != 0,
                        r[s[operands.Accumulate]] != 0, accumulators, inputs);
                    for (int k = 0; k < operands.Count; k++) r[d + k] = FromF32(accumulators[k]);
                };
            }
            case IntrinsicOp.MBarrierInit: return f => Runtime.Cpu.CpuMBarrier.Init(ref *(ulong*)f.R[s[0]], (int)f.R[s[1]]);
            case IntrinsicOp.MBarrierArrive: return f => f.R[d] = (long)Runtime.Cpu.CpuMBarrier.Arrive(ref *(ulong*)f.R[s[0]], 0);
            case IntrinsicOp.MBarrierArriveExpectTransaction:
                return f => f.R[d] = (long)Runtime.Cpu.CpuMBarrier.Arrive(ref *(ulong*)f.R[s[0]], (int)f.R[s[1]]);
            case IntrinsicOp.MBarrierCompleteTransaction:
                return f => Runtime.Cpu.CpuMBarrier.CompleteTransaction(ref *(ulong*)f.R[s[0]], (int)f.R[s[1]]);
            case IntrinsicOp.MBarrierTryWaitParity:
                return f => f.R[d] = Runtime.Cpu.CpuMBarrier.TryWaitParity(ref *(ulong*)f.R[s[0]], (int)f.R[s[1]]) ? 1 : 0;
            case IntrinsicOp.SharedAddress: return f => f.R[d] = f.Context.SharedAddress((nint)f.R[s[0]]);
            case IntrinsicOp.LoadMatrix or IntrinsicOp.LoadMatrixTransposed:
            {
                bool transposed = op == IntrinsicOp.LoadMatrixTransposed;
                int count = i.Type.Kind == TypeKind.Int32 ? 1 : Frontend.TypeLayout.Of(i.Method!.ReturnType).Leaves.Count;
                return f =>
                {
                    var registers = TensorCore.LoadMatrixOnCpu(f.Context, f.R[s[0]], count, transposed);
                    for (int k = 0; k < count; k++) f.R[d + k] = registers[k];
                };
            }
            case IntrinsicOp.StoreMatrix or IntrinsicOp.StoreMatrixTransposed:
            {
                // operands: the row address, then one register per matrix
                bool transposed = op == IntrinsicOp.StoreMatrixTransposed;
                int count = s.Length - 1;
                return f =>
                {
                    Span<int> registers = stackalloc int[count];
                    for (int k = 0; k < count; k++) registers[k] = (int)f.R[s[1 + k]];
                    TensorCore.StoreMatrixOnCpu(f.Context, f.R[s[0]], registers, transposed);
                };
            }
            case IntrinsicOp.PackHalf2: return f => f.R[d] = TensorCore.PackHalf2(F32(f.R[s[0]]), F32(f.R[s[1]]));
            case IntrinsicOp.PackBFloat162: return f => f.R[d] = TensorCore.PackBFloat162(F32(f.R[s[0]]), F32(f.R[s[1]]));
            case IntrinsicOp.RoundToTf32: return f => f.R[d] = TensorCore.RoundToTf32(F32(f.R[s[0]]));
            case IntrinsicOp.RuntimeValue: return f => f.R[d] = f.R[s[0]];
            case IntrinsicOp.KeepPhiCopies: return _ => { };

            case IntrinsicOp.BitCast: return f => f.R[d] = f.R[s[0]];
            case IntrinsicOp.FloatToHalf: return f => f.R[d] = FromF16((Half)F32(f.R[s[0]]));
            case IntrinsicOp.HalfToFloat: return f => f.R[d] = FromF32((float)F16(f.R[s[0]]));
            case IntrinsicOp.FloatToBFloat16: return f => f.R[d] = FromBF16(F32(f.R[s[0]]));
            case IntrinsicOp.BFloat16ToFloat: return f => f.R[d] = FromF32(BF16(f.R[s[0]]));
        }
        if (op >= IntrinsicOp.Exp && op <= IntrinsicOp.PopCount) return Math(i, d, s);
        throw new InvalidOperationException($"IR interpreter: unsupported intrinsic {op} ({IRPrinter.Format(i)}).");
    }

    private static int ElementSize(Instruction i)
        => i.ElementType?.Size is > 0 and var size ? size
            : throw new InvalidOperationException($"IR interpreter: {i.Intrinsic} without an element type ({IRPrinter.Format(i)}).");

    private static InterpreterOp Shuffle(int d, int[] s, ShuffleMode mode, TypeKind result)
        => f => f.R[d] = Normalize(result, f.Context.Shuffle((int)f.R[s[0]], (int)f.R[s[1]], mode));

    private static bool IsUnsigned(Instruction i)
        => i.Unsigned || i.Method?.GetParameters() is [{ ParameterType: var t }, ..] && (t == typeof(uint) || t == typeof(ulong)
            || t == typeof(uint).MakeByRefType() || t == typeof(ulong).MakeByRefType());

    private static InterpreterOp Atomic(Instruction i, int d, int[] s)
    {
        TypeKind kind = (i.ElementType ?? i.Type).Kind;
        bool unsigned = IsUnsigned(i);
        switch (i.Intrinsic, kind)
        {
            case (IntrinsicOp.AtomicAdd, TypeKind.Int32):
                return f => { int v = (int)f.R[s[1]]; f.R[d] = Interlocked.Add(ref *(int*)f.R[s[0]], v) - v; };
            case (IntrinsicOp.AtomicAdd, TypeKind.Int64):
                return f => { long v = f.R[s[1]]; f.R[d] = Interlocked.Add(ref *(long*)f.R[s[0]], v) - v; };
            case (IntrinsicOp.AtomicAdd, TypeKind.Float32):
                return f => f.R[d] = FromF32(FlashAttn.Compute.Atomic.Add(ref *(float*)f.R[s[0]], F32(f.R[s[1]])));
            case (IntrinsicOp.AtomicAdd, TypeKind.Float64):
                return f =>
                {
                    ref long target = ref *(long*)f.R[s[0]];
                    double value = F64(f.R[s[1]]);
                    long old = Volatile.Read(ref target);
                    while (true)
                    {
                        long seen = Interlocked.CompareExchange(ref target, FromF64(F64(old) + value), old);
                        if (seen == old) break;
                        old = seen;
                    }
                    f.R[d] = old;
                };
            case (IntrinsicOp.AtomicMax or IntrinsicOp.AtomicMin, TypeKind.Int32 or TypeKind.Int64):
            {
                bool max = i.Intrinsic == IntrinsicOp.AtomicMax, wide = kind == TypeKind.Int64;
                return f =>
                {
                    long value = f.R[s[1]];
                    long old = wide ? Volatile.Read(ref *(long*)f.R[s[0]]) : Volatile.Read(ref *(int*)f.R[s[0]]);
                    while (true)
                    {
                        int order = unsigned ? ZeroExtend(kind, old).CompareTo(ZeroExtend(kind, value)) : old.CompareTo(value);
                        if (max ? order >= 0 : order <= 0) break;
                        long seen = wide
                            ? Interlocked.CompareExchange(ref *(long*)f.R[s[0]], value, old)
                            : Interlocked.CompareExchange(ref *(int*)f.R[s[0]], (int)value, (int)old);
                        if (seen == old) break;
                        old = seen;
                    }
                    f.R[d] = old;
                };
            }
            case (IntrinsicOp.AtomicExchange, TypeKind.Int32 or TypeKind.Float32):
                return f => f.R[d] = Interlocked.Exchange(ref *(int*)f.R[s[0]], (int)f.R[s[1]]);
            case (IntrinsicOp.AtomicExchange, TypeKind.Int64 or TypeKind.Float64 or TypeKind.Pointer):
                return f => f.R[d] = Interlocked.Exchange(ref *(long*)f.R[s[0]], f.R[s[1]]);
            // Operands as Atomic.CompareExchange(ref target, comparand, value).
            case (IntrinsicOp.AtomicCompareExchange, TypeKind.Int32 or TypeKind.Float32):
                return f => f.R[d] = Interlocked.CompareExchange(ref *(int*)f.R[s[0]], (int)f.R[s[2]], (int)f.R[s[1]]);
            case (IntrinsicOp.AtomicCompareExchange, TypeKind.Int64 or TypeKind.Float64 or TypeKind.Pointer):
                return f => f.R[d] = Interlocked.CompareExchange(ref *(long*)f.R[s[0]], f.R[s[2]], f.R[s[1]]);
        }
        throw ScalarOps.Unsupported(i.Intrinsic, kind);
    }

    private static InterpreterOp Math(Instruction i, int d, int[] s)
    {
        var op = i.Intrinsic;
        TypeKind kind = i.Operands.Count > 0 ? i.Operands[0].Type.Kind : i.Type.Kind;
        if (kind == TypeKind.Float32)
        {
            if (op is IntrinsicOp.IsNaN or IntrinsicOp.IsInfinity or IntrinsicOp.IsFinite)
            {
                Func<float, bool> p = op switch
                {
                    IntrinsicOp.IsNaN => float.IsNaN,
                    IntrinsicOp.IsInfinity => float.IsInfinity,
                    _ => float.IsFinite,
                };
                return f => f.R[d] = p(F32(f.R[s[0]])) ? 1 : 0;
            }
            Func<float, float>? u = op switch
            {
                IntrinsicOp.Exp or IntrinsicOp.FastExp => MathF.Exp,
                IntrinsicOp.Exp2 or IntrinsicOp.FastExp2 => x => MathF.Pow(2f, x),
                IntrinsicOp.Log or IntrinsicOp.FastLog => MathF.Log,
                IntrinsicOp.Log2 or IntrinsicOp.FastLog2 => MathF.Log2,
                IntrinsicOp.Sqrt => MathF.Sqrt,
                IntrinsicOp.Rsqrt or IntrinsicOp.FastRsqrt => x => 1f / MathF.Sqrt(x),
                IntrinsicOp.Tanh or IntrinsicOp.FastTanh => MathF.Tanh,
                IntrinsicOp.Sin => MathF.Sin,
                IntrinsicOp.Cos => MathF.Cos,
                IntrinsicOp.FastReciprocal => x => 1f / x,
                IntrinsicOp.Abs => MathF.Abs,
                IntrinsicOp.Floor => MathF.Floor,
                IntrinsicOp.Ceiling => MathF.Ceiling,
                IntrinsicOp.Round => MathF.Round,
                IntrinsicOp.Truncate => MathF.Truncate,
                _ => null,
            };
            if (u is not null) return f => f.R[d] = FromF32(u(F32(f.R[s[0]])));
            Func<float, float, float>? b = op switch
            {
                IntrinsicOp.Pow => MathF.Pow,
                IntrinsicOp.FastDivide => (x, y) => x / y,
                IntrinsicOp.Min => MathF.Min,
                IntrinsicOp.Max => MathF.Max,
                IntrinsicOp.CopySign => MathF.CopySign,
                _ => null,
            };
            if (b is not null) return f => f.R[d] = FromF32(b(F32(f.R[s[0]]), F32(f.R[s[1]])));
            if (op == IntrinsicOp.Fma) return f => f.R[d] = FromF32(MathF.FusedMultiplyAdd(F32(f.R[s[0]]), F32(f.R[s[1]]), F32(f.R[s[2]])));
        }
        else if (kind == TypeKind.Float64)
        {
            if (op is IntrinsicOp.IsNaN or IntrinsicOp.IsInfinity or IntrinsicOp.IsFinite)
            {
                Func<double, bool> p = op switch
                {
                    IntrinsicOp.IsNaN => double.IsNaN,
                    IntrinsicOp.IsInfinity => double.IsInfinity,
                    _ => double.IsFinite,
                };
                return f => f.R[d] = p(F64(f.R[s[0]])) ? 1 : 0;
            }
            Func<double, double>? u = op switch
            {
                IntrinsicOp.Exp or IntrinsicOp.FastExp => System.Math.Exp,
                IntrinsicOp.Exp2 or IntrinsicOp.FastExp2 => x => System.Math.Pow(2d, x),
                IntrinsicOp.Log or IntrinsicOp.FastLog => System.Math.Log,
                IntrinsicOp.Log2 or IntrinsicOp.FastLog2 => System.Math.Log2,
                IntrinsicOp.Sqrt => System.Math.Sqrt,
                IntrinsicOp.Rsqrt or IntrinsicOp.FastRsqrt => x => 1d / System.Math.Sqrt(x),
                IntrinsicOp.Tanh or IntrinsicOp.FastTanh => System.Math.Tanh,
                IntrinsicOp.Sin => System.Math.Sin,
                IntrinsicOp.Cos => System.Math.Cos,
                IntrinsicOp.FastReciprocal => x => 1d / x,
                IntrinsicOp.Abs => System.Math.Abs,
                IntrinsicOp.Floor => System.Math.Floor,
                IntrinsicOp.Ceiling => System.Math.Ceiling,
                IntrinsicOp.Round => System.Math.Round,
                IntrinsicOp.Truncate => System.Math.Truncate,
                _ => null,
            };
            if (u is not null) return f => f.R[d] = FromF64(u(F64(f.R[s[0]])));
            Func<double, double, double>? b = op switch
            {
                IntrinsicOp.Pow => System.Math.Pow,
                IntrinsicOp.FastDivide => (x, y) => x / y,
                IntrinsicOp.Min => System.Math.Min,
                IntrinsicOp.Max => System.Math.Max,
                IntrinsicOp.CopySign => System.Math.CopySign,
                _ => null,
            };
            if (b is not null) return f => f.R[d] = FromF64(b(F64(f.R[s[0]]), F64(f.R[s[1]])));
            if (op == IntrinsicOp.Fma) return f => f.R[d] = FromF64(System.Math.FusedMultiplyAdd(F64(f.R[s[0]]), F64(f.R[s[1]]), F64(f.R[s[2]])));
        }
        else if (kind is TypeKind.Int32 or TypeKind.Int64)
        {
            bool unsigned = IsUnsigned(i);
            switch (op)
            {
                case IntrinsicOp.Abs: return f => f.R[d] = Normalize(kind, f.R[s[0]] < 0 ? -f.R[s[0]] : f.R[s[0]]);
                case IntrinsicOp.Min when unsigned: return f => f.R[d] = ZeroExtend(kind, f.R[s[0]]) <= ZeroExtend(kind, f.R[s[1]]) ? f.R[s[0]] : f.R[s[1]];
                case IntrinsicOp.Max when unsigned: return f => f.R[d] = ZeroExtend(kind, f.R[s[0]]) >= ZeroExtend(kind, f.R[s[1]]) ? f.R[s[0]] : f.R[s[1]];
                case IntrinsicOp.Min: return f => f.R[d] = System.Math.Min(f.R[s[0]], f.R[s[1]]);
                case IntrinsicOp.Max: return f => f.R[d] = System.Math.Max(f.R[s[0]], f.R[s[1]]);
                case IntrinsicOp.TrailingZeroCount when kind == TypeKind.Int32:
                    return f => f.R[d] = System.Numerics.BitOperations.TrailingZeroCount((uint)f.R[s[0]]);
                case IntrinsicOp.LeadingZeroCount when kind == TypeKind.Int32:
                    return f => f.R[d] = System.Numerics.BitOperations.LeadingZeroCount((uint)f.R[s[0]]);
                case IntrinsicOp.PopCount when kind == TypeKind.Int32:
                    return f => f.R[d] = System.Numerics.BitOperations.PopCount((uint)f.R[s[0]]);
                case IntrinsicOp.TrailingZeroCount: return f => f.R[d] = System.Numerics.BitOperations.TrailingZeroCount((ulong)f.R[s[0]]);
                case IntrinsicOp.LeadingZeroCount: return f => f.R[d] = System.Numerics.BitOperations.LeadingZeroCount((ulong)f.R[s[0]]);
                case IntrinsicOp.PopCount: return f => f.R[d] = System.Numerics.BitOperations.PopCount((ulong)f.R[s[0]]);
            }
        }
        throw ScalarOps.Unsupported(op, kind);
    }
}
