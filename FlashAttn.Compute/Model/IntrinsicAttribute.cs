namespace FlashAttn.Compute;

/// <summary>
/// Marks a programming-model method whose meaning the compiler supplies: the frontend turns a call to it
/// into one <c>Intrinsic</c> instruction carrying <see cref="Op"/>, the PTX backend lowers
/// that to instructions, and on the CPU the method's own managed body is its meaning.
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class IntrinsicAttribute(IntrinsicOp op) : Attribute
{
    /// <summary>The operation the call stands for.</summary>
    public IntrinsicOp Op { get; } = op;
}

/// <summary>Every operation the programming model exposes to kernels beyond plain C#.</summary>
public enum IntrinsicOp
{
    // Indices and dimensions (PTX special registers).
    /// <summary>threadIdx.x/y/z. (ThreadIdxX)</summary>
    ThreadIdxX,
    /// <summary>threadIdx.x/y/z. (ThreadIdxY)</summary>
    ThreadIdxY,
    /// <summary>threadIdx.x/y/z. (ThreadIdxZ)</summary>
    ThreadIdxZ,
    /// <summary>blockDim.x/y/z. (GroupDimX)</summary>
    GroupDimX,
    /// <summary>blockDim.x/y/z. (GroupDimY)</summary>
    GroupDimY,
    /// <summary>blockDim.x/y/z. (GroupDimZ)</summary>
    GroupDimZ,
    /// <summary>blockIdx.x/y/z. (GroupIdxX)</summary>
    GroupIdxX,
    /// <summary>blockIdx.x/y/z. (GroupIdxY)</summary>
    GroupIdxY,
    /// <summary>blockIdx.x/y/z. (GroupIdxZ)</summary>
    GroupIdxZ,
    /// <summary>gridDim.x/y/z. (GridDimX)</summary>
    GridDimX,
    /// <summary>gridDim.x/y/z. (GridDimY)</summary>
    GridDimY,
    /// <summary>gridDim.x/y/z. (GridDimZ)</summary>
    GridDimZ,
    /// <summary>%laneid.</summary>
    LaneIdx,
    /// <summary>Warp size (constant 32).</summary>
    WarpSize,

    // Synchronisation.
    /// <summary>bar.sync 0: every thread of the group waits here.</summary>
    Barrier,
    /// <summary>bar.red.popc / and / or: barrier that also reduces a predicate. (BarrierPopCount)</summary>
    BarrierPopCount,
    /// <summary>bar.red.popc / and / or: barrier that also reduces a predicate. (BarrierAnd)</summary>
    BarrierAnd,
    /// <summary>bar.red.popc / and / or: barrier that also reduces a predicate. (BarrierOr)</summary>
    BarrierOr,
    /// <summary>membar.cta / membar.gl. (MemoryFenceGroup)</summary>
    MemoryFenceGroup,
    /// <summary>membar.cta / membar.gl. (MemoryFenceDevice)</summary>
    MemoryFenceDevice,
    /// <summary>bar.warp.sync.</summary>
    WarpBarrier,

    // Warp shuffles (32-bit payloads; wider types are split by the model).
    /// <summary>shfl.sync.idx.</summary>
    ShuffleIdx,
    /// <summary>shfl.sync.bfly.</summary>
    ShuffleXor,
    /// <summary>shfl.sync.up.</summary>
    ShuffleUp,
    /// <summary>shfl.sync.down.</summary>
    ShuffleDown,
    /// <summary>redux.sync.add.s32 (sm_80; shuffles before): the warp's sum in every lane.</summary>
    WarpReduceAdd,
    /// <summary>redux.sync.min.s32 (sm_80; shuffles before): the warp's minimum in every lane.</summary>
    WarpReduceMin,
    /// <summary>redux.sync.max.s32 (sm_80; shuffles before): the warp's maximum in every lane.</summary>
    WarpReduceMax,
    /// <summary>redux.sync.or.b32 (sm_80; shuffles before): the warp's bitwise or in every lane.</summary>
    WarpReduceOr,
    /// <summary>vote.sync.ballot.b32: bit i of the result is lane i's predicate, in every lane.</summary>
    WarpBallot,

    // Memory.
    /// <summary>Static shared allocation of a constant element count.</summary>
    SharedAllocate,
    /// <summary>The launch's dynamic shared memory.</summary>
    SharedDynamic,
    /// <summary>Per-thread array of a constant element count (registers when promoted, else local memory).</summary>
    LocalAllocate,
    /// <summary>Index check that exists on the CPU only (the compiler drops it).</summary>
    CpuBoundsCheck,

    // Atomics.
    /// <summary>atom.add.</summary>
    AtomicAdd,
    /// <summary>atom.max.</summary>
    AtomicMax,
    /// <summary>atom.min.</summary>
    AtomicMin,
    /// <summary>atom.exch.</summary>
    AtomicExchange,
    /// <summary>atom.cas.</summary>
    AtomicCompareExchange,
    /// <summary>red.global.add.v4.f32: four floats added, no result (<see cref="Atomic.AddFour"/>).</summary>
    AtomicAddFour,
    /// <summary>red.global.add.v2.f32: two floats added, no result (<see cref="Atomic.AddTwo"/>).</summary>
    AtomicAddTwo,

    // Math (float32 and float64 overloads; the element type comes from the operands).
    /// <summary>Exact-ish math functions. (Exp)</summary>
    Exp,
    /// <summary>Exact-ish math functions. (Exp2)</summary>
    Exp2,
    /// <summary>Exact-ish math functions. (Log)</summary>
    Log,
    /// <summary>Exact-ish math functions. (Log2)</summary>
    Log2,
    /// <summary>Exact-ish math functions. (Sqrt)</summary>
    Sqrt,
    /// <summary>Exact-ish math functions. (Rsqrt)</summary>
    Rsqrt,
    /// <summary>Exact-ish math functions. (Tanh)</summary>
    Tanh,
    /// <summary>Exact-ish math functions. (Sin)</summary>
    Sin,
    /// <summary>Exact-ish math functions. (Cos)</summary>
    Cos,
    /// <summary>Exact-ish math functions. (Pow)</summary>
    Pow,
    /// <summary>Fast approximate variants (PTX .approx, flush-to-zero). (FastExp)</summary>
    FastExp,
    /// <summary>Fast approximate variants (PTX .approx, flush-to-zero). (FastExp2)</summary>
    FastExp2,
    /// <summary>Fast approximate variants (PTX .approx, flush-to-zero). (FastLog)</summary>
    FastLog,
    /// <summary>Fast approximate variants (PTX .approx, flush-to-zero). (FastLog2)</summary>
    FastLog2,
    /// <summary>Fast approximate variants (PTX .approx, flush-to-zero). (FastRsqrt)</summary>
    FastRsqrt,
    /// <summary>Fast approximate variants (PTX .approx, flush-to-zero). (FastTanh)</summary>
    FastTanh,
    /// <summary>Fast approximate variants (PTX .approx, flush-to-zero). (FastReciprocal)</summary>
    FastReciprocal,
    /// <summary>Fast approximate variants (PTX .approx, flush-to-zero). (FastDivide)</summary>
    FastDivide,
    /// <summary>Min/max/abs/fma/copysign/floor/ceil/round/trunc/isnan/isinf. (Min)</summary>
    Min,
    /// <summary>Min/max/abs/fma/copysign/floor/ceil/round/trunc/isnan/isinf. (Max)</summary>
    Max,
    /// <summary>Min/max/abs/fma/copysign/floor/ceil/round/trunc/isnan/isinf. (Abs)</summary>
    Abs,
    /// <summary>Min/max/abs/fma/copysign/floor/ceil/round/trunc/isnan/isinf. (Fma)</summary>
    Fma,
    /// <summary>Min/max/abs/fma/copysign/floor/ceil/round/trunc/isnan/isinf. (CopySign)</summary>
    CopySign,
    /// <summary>Min/max/abs/fma/copysign/floor/ceil/round/trunc/isnan/isinf. (Floor)</summary>
    Floor,
    /// <summary>Min/max/abs/fma/copysign/floor/ceil/round/trunc/isnan/isinf. (Ceiling)</summary>
    Ceiling,
    /// <summary>Min/max/abs/fma/copysign/floor/ceil/round/trunc/isnan/isinf. (Round)</summary>
    Round,
    /// <summary>Min/max/abs/fma/copysign/floor/ceil/round/trunc/isnan/isinf. (Truncate)</summary>
    Truncate,
    /// <summary>Min/max/abs/fma/copysign/floor/ceil/round/trunc/isnan/isinf. (IsNaN)</summary>
    IsNaN,
    /// <summary>Min/max/abs/fma/copysign/floor/ceil/round/trunc/isnan/isinf. (IsInfinity)</summary>
    IsInfinity,
    /// <summary>Min/max/abs/fma/copysign/floor/ceil/round/trunc/isnan/isinf. (IsFinite)</summary>
    IsFinite,
    /// <summary>Bit counts of a 32- or 64-bit integer (BitOperations): brev and clz. (TrailingZeroCount; the width for 0)</summary>
    TrailingZeroCount,
    /// <summary>Bit counts of a 32- or 64-bit integer (BitOperations): clz. (LeadingZeroCount; the width for 0)</summary>
    LeadingZeroCount,
    /// <summary>Bit counts of a 32- or 64-bit integer (BitOperations): popc. (PopCount)</summary>
    PopCount,

    // Bit-level reinterpretation and half-precision conversions.
    /// <summary>Reinterpret bits of a same-size value (float↔int, Half↔short, BFloat16↔short).</summary>
    BitCast,
    /// <summary>float → Half (round to nearest even), Half → float. (FloatToHalf)</summary>
    FloatToHalf,
    /// <summary>float → Half (round to nearest even), Half → float. (HalfToFloat)</summary>
    HalfToFloat,
    /// <summary>float → bfloat16 (round to nearest even), bfloat16 → float. (FloatToBFloat16)</summary>
    FloatToBFloat16,
    /// <summary>float → bfloat16 (round to nearest even), bfloat16 → float. (BFloat16ToFloat)</summary>
    BFloat16ToFloat,

    // Asynchronous copies (cp.async, sm_80+).
    /// <summary>cp.async.cg 16 bytes global → shared, or 16 zero bytes; runs in the background until a wait.</summary>
    AsyncCopy16,
    /// <summary>cp.async.wait_all: this thread's asynchronous copies have landed (a barrier then publishes them).</summary>
    AsyncCopyWaitAll,
    /// <summary>cp.async.commit_group: closes the group of this thread's copies issued since the last commit.</summary>
    AsyncCopyCommit,
    /// <summary>cp.async.wait_group N: all but the newest N committed groups of this thread have landed (N a constant).</summary>
    AsyncCopyWaitGroup,

    // Tensor cores (warp-collective; see TensorCore for the fragment layouts).
    /// <summary>mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32: D = A·B + C on one warp.</summary>
    MmaF16,
    /// <summary>mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32: D = A·B + C on one warp.</summary>
    MmaBF16,
    /// <summary>ldmatrix.sync.aligned.m8n8.{x1,x2,x4}.shared.b16 (the count from the result: int, Int2 or Int4).</summary>
    LoadMatrix,
    /// <summary>ldmatrix.sync.aligned.m8n8.{x1,x2,x4}.trans.shared.b16: the same with each 8 × 8 matrix transposed.</summary>
    LoadMatrixTransposed,
    /// <summary>cvt.rn.f16x2.f32: two floats rounded to fp16 and packed (first in the low half).</summary>
    PackHalf2,
    /// <summary>cvt.rn.bf16x2.f32: two floats rounded to bf16 and packed (first in the low half).</summary>
    PackBFloat162,
    /// <summary>mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32: D = A·B + C on one warp, tf32 inputs.</summary>
    MmaTf32,
    /// <summary>cvt.rna.tf32.f32: a float rounded to tf32 (10 mantissa bits, ties away from zero), as b32 bits.</summary>
    RoundToTf32,
    /// <summary>stmatrix.sync.aligned.m8n8.{x2,x4}.shared.b16 (sm_90): the inverse of <see cref="LoadMatrix"/>; operands the
    /// row address, then the registers (their count gives the x).</summary>
    StoreMatrix,
    /// <summary>stmatrix.sync.aligned.m8n8.{x2,x4}.trans.shared.b16 (sm_90): the same with each 8 × 8 matrix transposed.</summary>
    StoreMatrixTransposed,

    // Warpgroup tensor cores (wgmma, sm_90a; see WarpGroupMma).
    /// <summary>wgmma.fence.sync.aligned: orders this warpgroup's accumulator registers and shared-memory operands before the
    /// next wgmma.mma_async.</summary>
    WarpGroupFence,
    /// <summary>wgmma.commit_group.sync.aligned: closes the group of this warpgroup's wgmma.mma_async issued since the last.</summary>
    WarpGroupCommit,
    /// <summary>wgmma.wait_group.sync.aligned N: all but the newest N committed groups are complete (N a constant).</summary>
    WarpGroupWait,
    /// <summary>wgmma.mma_async.sync.aligned.m64nNk16.f32.f16.f16: D = A·B (+ D) on one warpgroup, A and B from shared memory by
    /// descriptors; operands the two descriptors, the accumulate flag, the N/2 accumulators (N from the result's size), the
    /// B-is-MN-major flag (a constant).</summary>
    WarpGroupMmaF16,
    /// <summary>The same with bf16 inputs.</summary>
    WarpGroupMmaBF16,
    /// <summary>The same with A in registers (an m16n8k16 A fragment per warp): operands A's four registers, B's descriptor, the
    /// accumulate flag, the accumulators, the B-is-MN-major flag.</summary>
    WarpGroupMmaRegisterAF16,
    /// <summary>The register-A product with bf16 inputs.</summary>
    WarpGroupMmaRegisterABF16,
    /// <summary>The 32-bit shared-window address of a shared pointer (cvta.to.shared, cvt.u32.u64).</summary>
    SharedAddress,
    /// <summary>setmaxnreg.inc.sync.aligned.u32 N (sm_90a): this warpgroup's registers per thread raised to N (a constant).</summary>
    WarpGroupIncreaseRegisters,
    /// <summary>setmaxnreg.dec.sync.aligned.u32 N (sm_90a): lowered to N.</summary>
    WarpGroupDecreaseRegisters,

    // Shared-memory barriers with phases and transaction counts (mbarrier, sm_90; see MBarrier).
    /// <summary>mbarrier.init.shared::cta.b64 [addr], count.</summary>
    MBarrierInit,
    /// <summary>mbarrier.arrive.shared::cta.b64 token, [addr].</summary>
    MBarrierArrive,
    /// <summary>mbarrier.arrive.expect_tx.shared::cta.b64 token, [addr], bytes.</summary>
    MBarrierArriveExpectTransaction,
    /// <summary>mbarrier.complete_tx.shared::cta.b64 [addr], bytes.</summary>
    MBarrierCompleteTransaction,
    /// <summary>mbarrier.try_wait.parity.shared::cta.b64 done, [addr], parity.</summary>
    MBarrierTryWaitParity,

    // Bulk asynchronous copies (cp.async.bulk, sm_90).
    /// <summary>cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32 [global], [shared], bytes: adds a run of floats from
    /// shared memory into device memory in the background; operands the global address, the shared address, the byte count.</summary>
    BulkReduceAdd,
    /// <summary>cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [shared], [global], bytes, [mbarrier]: a run of
    /// bytes from device memory into shared memory, completed on an mbarrier; operands the shared destination, the global
    /// source, the byte count, the barrier.</summary>
    BulkLoad,
    /// <summary>cp.async.bulk.tensor.Nd.shared::cluster.global.tile.mbarrier::complete_tx::bytes [shared], [map, {c0, …}], [mbarrier]:
    /// a box of a tensor map into shared memory by the tensor memory accelerator, completed on an mbarrier; operands the
    /// shared destination, the map's address (a kernel parameter), the N coordinates, the barrier.</summary>
    TensorLoad,
    /// <summary>cp.async.bulk.commit_group: closes the group of this thread's bulk copies issued since the last commit.</summary>
    BulkCommit,
    /// <summary>cp.async.bulk.wait_group.read N: all but the newest N committed bulk groups of this thread have read their
    /// shared-memory source (N a constant), which may then be written again.</summary>
    BulkWaitRead,
    /// <summary>cp.async.bulk.wait_group N: all but the newest N committed bulk groups of this thread are complete.</summary>
    BulkWait,
    /// <summary>fence.proxy.async.shared::cta: this thread's ordinary shared-memory writes become visible to the bulk copies
    /// (the async proxy) that are issued after the next barrier.</summary>
    FenceProxyAsyncShared,

    // Compiler control.
    /// <summary>The operand, hidden from constant folding: a loop bounded by it is not unrolled.</summary>
    RuntimeValue,
    /// <summary>No code: the PTX backend writes every phi's copy on every edge of this kernel (<c>PtxPhiCoalescing</c> not
    /// run), for the specialisations measured faster that way.</summary>
    KeepPhiCopies,
}
