namespace FlashAttn.Kernels;

/// <summary>
/// Tile shape of the tensor-core kernels, per head dim: the one place it is chosen. Built inside the kernels from
/// their specialized parameters, so every size below is a compile-time constant there.
/// </summary>
/// <remarks>
/// In the forward each warp owns 16 or 32 query rows of the block (the m of the mma); the backward gives each of its
/// products its own warp grid (Sᵀ/dPᵀ, dV/dK, dQ: the Score*, Gradient* and Dq* members below). Shared tiles hold the
/// storage's elements (16-bit, or fp32 for 3×TF32), rows padded by 16 bytes: the eight row addresses of an ldmatrix fall
/// in eight different 4-bank groups (row stride ≡ 16 bytes mod 128), and the 32-bit fragment loads of fp32 tiles (row
/// stride ≡ 4 words mod 8) touch 32 different banks: conflict-free without an XOR swizzle, for every d'. fp32 tiles take
/// twice the shared memory and their split operands twice the registers, hence their smaller blocks.
/// </remarks>
public readonly struct TensorCoreTile(int headDimPadded, int warps, bool decode = false, int elementBytes = 2)
{
    /// <summary>Bytes of one cp.async chunk and of the row padding.</summary>
    public const int ChunkBytes = 16;

    /// <summary>Head dims whose rows are staged in whole chunks (d a multiple of this, every tensor 16-byte aligned).</summary>
    public const int ChunkedHeadDimMultiple = 8;

    /// <summary>d rounded up to a multiple of 16 (the k of one mma; ldmatrix.x4 covers 16 columns).</summary>
    public int HeadDimPadded { get; } = headDimPadded;

    /// <summary>Warps per group.</summary>
    public int Warps { get; } = warps;

    /// <summary>Threads per group.</summary>
    public int Threads => 32 * Warps;

    /// <summary>True for KV-cache calls: few (GQA-packed) query rows against many keys, memory-bound.</summary>
    public bool Decode { get; } = decode;

    /// <summary>Bytes of one element of the shared tiles: 2 (fp16, bf16) or 4 (fp32, 3×TF32).</summary>
    public int ElementBytes { get; } = elementBytes;

    /// <summary>Elements of one 16-byte cp.async chunk and of the row padding.</summary>
    public int ChunkElements => ChunkBytes / ElementBytes;

    private bool Wide => ElementBytes == 4;

    /// <summary>Forward: m16 row tiles per warp: two (32 rows) while their fp32 O and S fit the registers (d' ≤ 128), so
    /// each K/V fragment read from shared memory feeds twice the mma; one above, and one for decoding, whose packed rows
    /// rarely fill 64 (every row tile more is tensor-core work on padding while the cache streams past). fp32: two up to
    /// d' = 64 only.</summary>
    public int RowTilesPerWarp => HeadDimPadded <= (Wide ? 64 : 128) && !Decode ? 2 : 1;

    /// <summary>Br: query rows per forward block.</summary>
    public int BlockRows => 16 * RowTilesPerWarp * Warps;

    /// <summary>Forward, 16-bit above d' = 128 with 8 warps: FA2's large-head tile (Br = 128, Bc = 64, one group per SM).
    /// With 4 warps there a K/V block fed only 64 query rows, so at d' = 256 the K/V tiles' traffic from L2 was twice FA2's
    /// per flop.</summary>
    private bool ForwardLargeHeadTile => !Wide && !Decode && HeadDimPadded > 128 && Warps == 8;

    /// <summary>Forward, 3×TF32 above d' = 64 up to 128 with 8 warps: K and V split once per block into shared (hi, lo) tiles
    /// that every warp reads (<see cref="Tf32SplitTiles"/>), instead of each warp splitting the fragments it loads; one row
    /// tile a warp (Br = 128), one group per SM.</summary>
    public bool ForwardSplitsKeyValues => Wide && !Decode && HeadDimPadded > 64 && HeadDimPadded <= 128 && Warps == 8;

    /// <summary>Bc: keys per forward block: 64, and 32 above d' = 128 (fp32: above 64) with 4 warps, so that two stages of
    /// K and V fit beside Q twice per SM.</summary>
    public int BlockCols => HeadDimPadded <= (Wide ? 64 : 128) || ForwardLargeHeadTile ? 64 : 32;

    /// <summary>Forward groups resident per SM: two 4-warp groups (the kernel's launch bounds give each 255 registers per
    /// thread either way), one <see cref="ForwardLargeHeadTile"/>.</summary>
    public int ForwardGroupsPerMultiprocessor => Warps == 8 ? 1 : 2;

    /// <summary>Forward: the next K/V block's copies are issued after the softmax, just before P·V, above d' = 64 (16-bit):
    /// issued at the block's start, their address registers stayed live through S and the softmax (255 registers, 32-byte
    /// spills at d' = 128) and S's first fragment loads waited for the copies to read them. Up to d' = 64 a block is too
    /// short to hide a copy issued that late (H100: −4 to −6%); 3×TF32 keeps them at the start (not measured late).</summary>
    public bool ForwardCopiesBeforePv => !Wide && HeadDimPadded > 64;

    /// <summary>Forward: Q and K/V tiles whose every chunk exists (a full block, d = d') are staged by plain cp.async,
    /// without the zero-fill operand, the row tests and the selects that keep a missing row's source address valid
    /// (16-bit, not decoding). H100, interleaved A/B: forward d = 96 +0.6 to +4.4%, d = 64 +0.1 to +1.7%, d = 128 −0.8 to
    /// +1.2% (registers at d' = 64/96: 253/254 → 231/234, ptxas 11.8); the backward's Q/dO stages lost 1.4–4% at d = 64 and
    /// 128 with them and keep the one path; decoding and 3×TF32 spilled (d' = 256: 8 → 268 and 52 → 252 bytes).</summary>
    public bool ForwardPlainCopiesOfWholeTiles => !Wide && !Decode;

    /// <summary>Forward: K/V stages in the ring (block j computes while block j + 1 streams in).</summary>
    public const int Stages = 2;

    /// <summary>The forward's stage of the ring for iteration <paramref name="index"/> (≥ 0): by unsigned remainder, as a signed
    /// one costs a fix-up for negative values that never occur (v28). The backward keeps the signed remainder: the unsigned
    /// one measured −0.8 to −2.5% at d = 64 (ptxas placed its spills differently) and ±0.8% at d = 128 (H100, 2026-12-07,
    /// 6708ae9 against 8897607, two rounds); decoding keeps it too, unmeasured.</summary>
    public static int Stage(int index) => (int)((uint)index % Stages);

    /// <summary>Elements per shared row.</summary>
    public int Stride => HeadDimPadded + ChunkElements;

    /// <summary>Q fragments live in registers for the whole K/V loop when they are small (≤ 32 registers); else they
    /// are re-read from shared memory for each K block (always for fp32, whose split operands are four times larger). The
    /// forward's and the decode kernel's rule (decoding: one row tile, so 16-bit up to d' = 128).</summary>
    public bool QueryInRegisters => !Wide && RowTilesPerWarp * HeadDimPadded <= 128;

    /// <summary>Forward shared bytes: Q (Br rows), <see cref="Stages"/> × (K and V, Bc rows each), and the split K and V
    /// where <see cref="ForwardSplitsKeyValues"/>.</summary>
    public int ForwardSharedBytes => (BlockRows + Stages * 2 * BlockCols) * Stride * ElementBytes
        + (ForwardSplitsKeyValues ? Tf32SplitTiles.Bytes(BlockCols, HeadDimPadded) : 0);

    /// <summary>Backward, 16-bit above d' = 128 with 8 warps: FA2's d = 256 tile (Bc = Br = 64, one group per key block,
    /// dK and dV of 64 keys × d' spread over 8 warps' registers). With 4 warps there (a device with less shared memory)
    /// the key block is split into two column groups.</summary>
    private bool LargeHeadTile => !Wide && HeadDimPadded > 128 && Warps == 8;

    /// <summary>Backward: Bc keys per block, 16 per warp (128 with 8 warps, as FA2); 64 in <see cref="LargeHeadTile"/>.</summary>
    public int BackwardBlockCols => LargeHeadTile ? 64 : 16 * Warps;

    /// <summary>Backward: Br query rows per block (the n of Sᵀ = K Qᵀ): 128 up to d' = 64 (as FA2: Sᵀ and dPᵀ take the
    /// registers that d' = 128's dK and dV would, and each K/V fragment, barrier and Q/dO stage serves twice the work),
    /// 64 up to 128 and in <see cref="LargeHeadTile"/>, 32 above (shared memory); fp32: 64 up to d' = 64, 32 up to 128,
    /// 16 above.</summary>
    public int BackwardBlockRows => !Wide ? (HeadDimPadded <= 64 ? 128 : HeadDimPadded <= 128 || LargeHeadTile ? 64 : 32)
        : HeadDimPadded <= 64 ? 64 : HeadDimPadded <= 128 ? 32 : 16;

    /// <summary>Backward: dK/dV column groups per key block: two for 4-warp tiles above d' = 128, where the group's 64 keys ×
    /// d' of dK and dV would not fit the registers; each group recomputes S and dP and owns its columns of dK, dV and dQ.</summary>
    public int ColumnSplits => HeadDimPadded > 128 && !LargeHeadTile ? 2 : 1;

    /// <summary>Backward: head-dim columns of dK, dV and dQ one group accumulates.</summary>
    public int SplitColumns => HeadDimPadded / ColumnSplits;

    /// <summary>Backward, Sᵀ = K Qᵀ and dPᵀ = V dOᵀ: query rows of one warp's tile: 32, as FA2's warp tile (all of Br when
    /// smaller); 3×TF32: all of Br, so that each warp's tile is one m16 tile of keys (its split operands take twice the
    /// registers).</summary>
    public int ScoreWarpRows => Wide ? BackwardBlockRows : Math.Min(32, BackwardBlockRows);

    /// <summary>Backward: warps side by side along the block's query rows in Sᵀ and dPᵀ.</summary>
    public int ScoreRowWarps => BackwardBlockRows / ScoreWarpRows;

    /// <summary>Backward: keys of one warp's Sᵀ and dPᵀ tile (the warps along the keys share Bc).</summary>
    public int ScoreWarpKeys => BackwardBlockCols / (Warps / ScoreRowWarps);

    /// <summary>Backward, dV += Pᵀ dO and dK += dSᵀ Q: keys of one warp's tile, 32 (3×TF32: 16, whose split operands take twice
    /// the registers), so that each Q/dO fragment read from shared memory feeds two m16 tiles.</summary>
    public int GradientWarpKeys => Wide ? 16 : 32;

    /// <summary>Backward: warps side by side along the keys in dV and dK.</summary>
    public int GradientKeyWarps => BackwardBlockCols / GradientWarpKeys;

    /// <summary>Backward: head-dim columns of one warp's dV and dK tile (the warps along the columns share the group's).</summary>
    public int GradientWarpColumns => SplitColumns / (Warps / GradientKeyWarps);

    /// <summary>Backward, dQ += dS K: query rows of one warp's tile: 32 where each warp's columns are still whole x4 loads
    /// (a multiple of 16), else 16.</summary>
    public int DqWarpRows => BackwardBlockRows >= 32 && DqColumnsAt(32) % 16 == 0 ? 32 : 16;

    /// <summary>Backward: warps side by side along the block's query rows in dQ.</summary>
    public int DqRowWarps => BackwardBlockRows / DqWarpRows;

    /// <summary>Backward: head-dim columns of one warp's dQ tile.</summary>
    public int DqWarpColumns => DqColumnsAt(DqWarpRows);

    private int DqColumnsAt(int warpRows) => SplitColumns / (Warps / (BackwardBlockRows / warpRows));

    /// <summary>Backward: Pᵀ and dSᵀ go to shared memory by stmatrix (one per two accumulator tiles; 16-bit) up to d' = 96,
    /// by 32-bit stores above. H100, interleaved A/B: d = 64 +4 to +6.5%, d = 96 +2 to +4.5% (fewer MIO instructions: 36 STS
    /// a block become 4 and 8 STSM), d = 128 −0.4 to −1%; above 128 not measured.</summary>
    public bool BackwardStoresScoresByMatrix => !Wide && HeadDimPadded <= 96;

    /// <summary>Backward: dQ (and its atomics) between dV and dK, FA2's order, up to d' = 96 (16-bit); after both above. H100,
    /// interleaved A/B with the atomics' addresses computed first: d = 64 +1.5 to +3.7%, d = 96 +1.4 to +3.0%, d = 128 −1.3 to
    /// −2% (there the instructions after the atomics waited for them to read their registers); 3×TF32 and d' > 128 not
    /// measured.</summary>
    public bool BackwardDqBetweenGradients => !Wide && HeadDimPadded <= 96;

    /// <summary>Backward with dropout: the block's decisions are drawn at its top, before the wait for Q and dO, and kept
    /// as bits (16-bit, up to d' = 64, where the draws inside the scores' code spilled 304 bytes at 255 registers), else
    /// drawn where they are applied. H100, A/B against drawing them inline (2026-12-07): d = 64 +1.4 to +2.5%, d = 128
    /// −2 to −4% (there the draws held the warps before the block's barrier).</summary>
    public bool BackwardDrawsDropoutFirst => !Wide && HeadDimPadded <= 64;

    /// <summary>Backward: elements of a stage's row statistics (L and D, Br floats each).</summary>
    public int StatisticElements => 2 * BackwardBlockRows * sizeof(float) / ElementBytes;

    /// <summary>Backward: elements per row of the Pᵀ and dSᵀ tiles (Bc rows of Br, padded as the other tiles).</summary>
    public int ScoreTileStride => BackwardBlockRows + ChunkElements;

    /// <summary>Backward shared bytes: K, V (Bc rows), <see cref="Stages"/> × (Q, dO: Br rows; L, D: Br floats), Pᵀ and dSᵀ
    /// (Bc × Br each).</summary>
    public int BackwardSharedBytes => (2 * BackwardBlockCols * Stride
        + Stages * (2 * BackwardBlockRows * Stride + StatisticElements)
        + 2 * BackwardBlockCols * ScoreTileStride) * ElementBytes;

    /// <summary>Backward: floats per row of the dQ stage (<see cref="StagesDq"/>): the group's columns and 8 more, so that the
    /// rows of a warp's 8-byte fragment stores start 8 banks apart (two wavefronts per store, the least).</summary>
    public int DqStageStride => SplitColumns + 8;

    /// <summary>Backward: bytes of the dQ stage, Br rows.</summary>
    public int DqStageBytes => BackwardBlockRows * DqStageStride * sizeof(float);

    /// <summary>
    /// Backward: dQ = dS K goes to shared memory and from there to the accumulator by one bulk reduction per row (sm_90's
    /// cp.reduce.async.bulk; <paramref name="hasBulkCopies"/>), instead of 16 two-float atomics per lane and block: the
    /// atomics held the accumulator registers until the memory pipe read them, and the next instructions waited (ncu beside
    /// FA2, d = 128: 26k + 34k of 560k stall samples at and after them). H100, interleaved A/B against the atomics: d = 128
    /// +0.2 to +1.6% (bwd, 6 rows), d = 96 −0.6 to +0.4%, d = 64 −2.0 to −4.0% (there dQ sits between dV and dK, and its
    /// 16 stores per lane queue with dK's fragment loads), so only d' = 128: 16-bit tiles above d' = 96 whose stage fits
    /// beside the others in <paramref name="maxSharedBytes"/> (d' = 128 only: above, it does not), for
    /// <paramref name="chunked"/> head dims (16-byte rows, as the bulk copies need), when the kernel accumulates dQ at all
    /// (<paramref name="accumulatesDq"/>: not in deterministic mode).
    /// </summary>
    public bool StagesDq(int maxSharedBytes, bool hasBulkCopies, bool chunked, bool accumulatesDq)
        => hasBulkCopies && chunked && accumulatesDq && !Wide && HeadDimPadded > 96 && BackwardSharedBytes + DqStageBytes <= maxSharedBytes;

    /// <summary>Backward launch: <see cref="BackwardSharedBytes"/>, and the dQ stage when <paramref name="dqStaged"/>.</summary>
    public int BackwardLaunchSharedBytes(bool dqStaged) => BackwardSharedBytes + (dqStaged ? DqStageBytes : 0);

    /// <summary>The backward tile for head dim <paramref name="headDim"/>: 8 warps (16-bit: every d'; fp32: up to d' = 64),
    /// else 4, and 4 wherever 8 would need more than <paramref name="maxSharedBytes"/> (the device's limit per group: an
    /// A100's 163 KB). d' is a multiple of 32 up to 128, above that of 64 (fp32: 256), so that each warp's dQ, dK and dV
    /// columns are whole x4 loads.</summary>
    public static TensorCoreTile ForBackward(int headDim, int elementBytes = 2, int maxSharedBytes = AttentionTileConfig.MaxSharedBytes)
    {
        int padded = headDim <= 128 ? (headDim + 31) / 32 * 32 : elementBytes == 4 ? 256 : (headDim + 63) / 64 * 64;
        var preferred = new TensorCoreTile(padded, elementBytes == 2 || padded <= 64 ? 8 : 4, elementBytes: elementBytes);
        return preferred.BackwardSharedBytes > maxSharedBytes ? new(padded, 4, elementBytes: elementBytes) : preferred;
    }

    /// <summary>The forward tile for head dim <paramref name="headDim"/> (1…256); <paramref name="decode"/> for KV-cache calls:
    /// 4 warps, and 8 for 16-bit head dims above d' = 128 (<see cref="ForwardLargeHeadTile"/>) and 3×TF32 ones above 64 up to
    /// 128 (<see cref="ForwardSplitsKeyValues"/>) where that tile fits <paramref name="maxSharedBytes"/> (an A100's 163 KB
    /// does not hold d' = 256's 203 KB, nor the split tiles' 198 KB at d' = 128).</summary>
    public static TensorCoreTile ForForward(int headDim, bool decode = false, int elementBytes = 2, int maxSharedBytes = AttentionTileConfig.MaxSharedBytes)
    {
        var large = new TensorCoreTile(PaddedHeadDim(headDim), 8, decode, elementBytes);
        return (large.ForwardLargeHeadTile || large.ForwardSplitsKeyValues) && large.ForwardSharedBytes <= maxSharedBytes
            ? large : new(PaddedHeadDim(headDim), 4, decode, elementBytes);
    }

    /// <summary>d rounded up to a multiple of 16.</summary>
    public static int PaddedHeadDim(int headDim) => (headDim + 15) / 16 * 16;
}
