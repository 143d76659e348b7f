using FlashAttn.Compute;

namespace FlashAttn.Tests.Compute.Corpus;

/// <summary>
/// Corpus kernels for the tensor-core intrinsics. Fragments are gathered with the PTX ISA's layout formulas written out
/// here (lane = 4g + t), independently of <see cref="TensorCore"/>'s CPU meaning, so a layout bug in either shows.
/// </summary>
internal static partial class Kernels
{
    /// <summary>Halves per row of the shared tiles: 16 columns and 8 of padding (48-byte rows keep 16-byte alignment).</summary>
    public const int MatrixStride = 24;

    /// <summary>The 32-bit register holding elements [index] (low half) and [index + 1] of a 16-bit matrix.</summary>
    private static int Pair<T>(ArrayView<T> matrix, int index) where T : unmanaged => matrix.Cast<int>()[index / 2];

    /// <summary>
    /// One warp per group: D (16 × 8) = A (16 × 16, row-major) · B + C, where <paramref name="bColumns"/> holds B column by
    /// column (Bᵀ row-major, 8 × 16); fragments read from device memory by the layout formulas. Group k works on problem k.
    /// </summary>
    public static void MmaF16FromGlobal(ArrayView<Half> a, ArrayView<Half> bColumns, ArrayView<float> c, ArrayView<float> d)
        => StoreAccumulator(d, Grid.IdxX, TensorCore.MultiplyAddF16(GatherA(a), GatherB(bColumns), LoadAccumulator(c, Grid.IdxX)));

    /// <summary><see cref="MmaF16FromGlobal"/> in bf16.</summary>
    public static void MmaBF16FromGlobal(ArrayView<BFloat16> a, ArrayView<BFloat16> bColumns, ArrayView<float> c, ArrayView<float> d)
        => StoreAccumulator(d, Grid.IdxX, TensorCore.MultiplyAddBF16(GatherA(a), GatherB(bColumns), LoadAccumulator(c, Grid.IdxX)));

    /// <summary>
    /// <see cref="MmaF16FromGlobal"/> for m16n8k8 with tf32 inputs: A 16 × 8 row-major, B given as Bᵀ (8 × 8), one element
    /// per register: A = (A[g][t], A[g+8][t], A[g][t+4], A[g+8][t+4]), B = (B[t][g], B[t+4][g]).
    /// </summary>
    public static void MmaTf32FromGlobal(ArrayView<float> a, ArrayView<float> bColumns, ArrayView<float> c, ArrayView<float> d)
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        var pa = a.SubView(Grid.IdxX * 128, 128).Cast<int>();
        var pb = bColumns.SubView(Grid.IdxX * 64, 64).Cast<int>();
        var fa = new Int4(pa[g * 8 + t], pa[(g + 8) * 8 + t], pa[g * 8 + t + 4], pa[(g + 8) * 8 + t + 4]);
        var fb = new Int2(pb[g * 8 + t], pb[g * 8 + t + 4]);
        StoreAccumulator(d, Grid.IdxX, TensorCore.MultiplyAddTf32(fa, fb, LoadAccumulator(c, Grid.IdxX)));
    }

    /// <summary>Each float rounded to tf32 (cvt.rna.tf32.f32), as bits.</summary>
    public static void RoundToTf32(ArrayView<float> input, ArrayView<int> output)
    {
        int i = Grid.IdxX * Group.DimX + Group.IdxX;
        if (i < output.Length) output[i] = TensorCore.RoundToTf32(input[i]);
    }

    /// <summary>A fragment of problem Grid.IdxX: X = A[g][2t, 2t+1], Y = A[g+8][2t, …], Z = A[g][2t+8, …], W = A[g+8][2t+8, …].</summary>
    private static Int4 GatherA<T>(ArrayView<T> a) where T : unmanaged
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        var pa = a.SubView(Grid.IdxX * 256, 256);
        return new Int4(Pair(pa, g * 16 + 2 * t), Pair(pa, (g + 8) * 16 + 2 * t), Pair(pa, g * 16 + 2 * t + 8), Pair(pa, (g + 8) * 16 + 2 * t + 8));
    }

    /// <summary>B fragment of problem Grid.IdxX from Bᵀ row-major: X = B[2t, 2t+1][g], Y = B[2t+8, 2t+9][g].</summary>
    private static Int2 GatherB<T>(ArrayView<T> bColumns) where T : unmanaged
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        var pb = bColumns.SubView(Grid.IdxX * 128, 128);
        return new Int2(Pair(pb, g * 16 + 2 * t), Pair(pb, g * 16 + 2 * t + 8));
    }

    /// <summary>C/D fragment of problem <paramref name="problem"/>: X, Y = [g][2t, 2t+1]; Z, W = [g+8][2t, 2t+1] of a 16 × 8 matrix.</summary>
    private static Float4 LoadAccumulator(ArrayView<float> c, int problem)
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4, first = problem * 128;
        return new Float4(c[first + g * 8 + 2 * t], c[first + g * 8 + 2 * t + 1], c[first + (g + 8) * 8 + 2 * t], c[first + (g + 8) * 8 + 2 * t + 1]);
    }

    private static void StoreAccumulator(ArrayView<float> d, int problem, Float4 value)
    {
        int lane = Warp.LaneIdx, g = lane / 4, t = lane % 4, first = problem * 128;
        d[first + g * 8 + 2 * t] = value.X;
        d[first + g * 8 + 2 * t + 1] = value.Y;
        d[first + (g + 8) * 8 + 2 * t] = value.Z;
        d[first + (g + 8) * 8 + 2 * t + 1] = value.W;
    }

    /// <summary>
    /// ldmatrix of every width from a padded shared copy of a 32 × 16 fp16 matrix. Lane l gives the address of row l,
    /// column 8·(l / 16), so matrix j of an x4 is rows 8j…8j+7 at column 8·(j / 2). Each lane writes its registers:
    /// x4 at [4l + j], x4.trans at [128 + 4l + j], x2 at [256 + 2l + j], x2.trans at [320 + 2l + j], x1 at [384 + l].
    /// </summary>
    public static void LoadMatrices(ArrayView<Half> input, ArrayView<int> output)
    {
        var tile = SharedMemory.Allocate<Half>(32 * MatrixStride);
        for (int e = Group.IdxX; e < 32 * 16; e += Group.DimX) tile[e / 16 * MatrixStride + e % 16] = input[e];
        Group.Barrier();
        int lane = Warp.LaneIdx;
        ref var row = ref tile[lane * MatrixStride + 8 * (lane / 16)];
        var x4 = TensorCore.LoadMatrixX4(ref row);
        var x4t = TensorCore.LoadMatrixX4Transposed(ref row);
        var x2 = TensorCore.LoadMatrixX2(ref row);
        var x2t = TensorCore.LoadMatrixX2Transposed(ref row);
        int x1 = TensorCore.LoadMatrixX1(ref row);
        output[4 * lane] = x4.X; output[4 * lane + 1] = x4.Y; output[4 * lane + 2] = x4.Z; output[4 * lane + 3] = x4.W;
        output[128 + 4 * lane] = x4t.X; output[128 + 4 * lane + 1] = x4t.Y; output[128 + 4 * lane + 2] = x4t.Z; output[128 + 4 * lane + 3] = x4t.W;
        output[256 + 2 * lane] = x2.X; output[256 + 2 * lane + 1] = x2.Y;
        output[320 + 2 * lane] = x2t.X; output[320 + 2 * lane + 1] = x2t.Y;
        output[384 + lane] = x1;
    }

    /// <summary>Rows of each tile <see cref="StoreMatrices"/> writes: the matrices start one row down (16 rows, 1 above, 1 below).</summary>
    public const int StoredRows = 18;

    /// <summary>The stmatrix forms <see cref="StoreMatrices"/> exercises, one tile each: x4, x4.trans, x2, x2.trans.</summary>
    public const int StoredForms = 4;

    /// <summary>
    /// The register <paramref name="j"/> of lane <paramref name="lane"/> that <see cref="StoreMatrices"/> stores: halves
    /// 2·id + 1 (low) and 2·id + 2 (high) with id = 4·lane + j, all different and none zero, so every misplaced or
    /// swapped half shows.
    /// </summary>
    public static int StoredRegister(int lane, int j)
    {
        int id = 4 * lane + j;
        return (2 * id + 1) | ((2 * id + 2) << 16);
    }

    /// <summary>
    /// stmatrix of every form into zeroed shared tiles of <see cref="StoredRows"/> × <see cref="MatrixStride"/> halves.
    /// Lane l gives the address of tile row 1 + l % 16, column 8·(l / 16): matrix 0 at rows 1–8, column 0; matrix 1 below
    /// it (rows 9–16); matrices 2 and 3 beside them at column 8 (x2 stores matrices 0 and 1 only). Registers from
    /// <see cref="StoredRegister"/>. After a barrier the tiles go to <paramref name="tiles"/> as 32-bit pairs (form f's
    /// tile at [f · StoredRows · MatrixStride / 2 …]), and each form's ldmatrix from the same addresses to
    /// <paramref name="roundTrip"/> at [128·f + 4l + j].
    /// </summary>
    public static void StoreMatrices(ArrayView<int> tiles, ArrayView<int> roundTrip)
    {
        const int tileHalves = StoredRows * MatrixStride;
        var shared = SharedMemory.Allocate<Half>(StoredForms * tileHalves);
        var sharedPairs = shared.Cast<int>();
        for (int e = Group.IdxX; e < StoredForms * tileHalves / 2; e += Group.DimX) sharedPairs[e] = 0;
        Group.Barrier();
        int lane = Warp.LaneIdx;
        int row = (1 + lane % 16) * MatrixStride + 8 * (lane / 16);
        var value = new Int4(StoredRegister(lane, 0), StoredRegister(lane, 1), StoredRegister(lane, 2), StoredRegister(lane, 3));
        var pair = new Int2(value.X, value.Y);
        TensorCore.StoreMatrixX4(ref shared[row], value);
        TensorCore.StoreMatrixX4Transposed(ref shared[tileHalves + row], value);
        TensorCore.StoreMatrixX2(ref shared[2 * tileHalves + row], pair);
        TensorCore.StoreMatrixX2Transposed(ref shared[3 * tileHalves + row], pair);
        Group.Barrier();
        for (int e = Group.IdxX; e < StoredForms * tileHalves / 2; e += Group.DimX) tiles[e] = sharedPairs[e];
        var x4 = TensorCore.LoadMatrixX4(ref shared[row]);
        var x4t = TensorCore.LoadMatrixX4Transposed(ref shared[tileHalves + row]);
        var x2 = TensorCore.LoadMatrixX2(ref shared[2 * tileHalves + row]);
        var x2t = TensorCore.LoadMatrixX2Transposed(ref shared[3 * tileHalves + row]);
        roundTrip[4 * lane] = x4.X; roundTrip[4 * lane + 1] = x4.Y; roundTrip[4 * lane + 2] = x4.Z; roundTrip[4 * lane + 3] = x4.W;
        roundTrip[128 + 4 * lane] = x4t.X; roundTrip[128 + 4 * lane + 1] = x4t.Y; roundTrip[128 + 4 * lane + 2] = x4t.Z; roundTrip[128 + 4 * lane + 3] = x4t.W;
        roundTrip[256 + 4 * lane] = x2.X; roundTrip[256 + 4 * lane + 1] = x2.Y;
        roundTrip[384 + 4 * lane] = x2t.X; roundTrip[384 + 4 * lane + 1] = x2t.Y;
    }

    /// <summary>Rows and floats per row of the tile <see cref="BulkReduceRows"/> reduces (the shared rows padded by 4 floats).</summary>
    public const int BulkRows = 4, BulkColumns = 16, BulkStride = 20;

    /// <summary>
    /// Bulk reductions as the backward stages dQ: each group writes <paramref name="first"/>'s rows into a shared tile, fences,
    /// and after a barrier threads 0…3 each add one row to <paramref name="output"/> (every group into the same rows, so the
    /// adds meet); then, after waiting for those reads, the tile is overwritten with <paramref name="second"/>'s rows and added
    /// again, and the kernel waits for completion. Groups k take their values from row block k of the inputs.
    /// </summary>
    public static void BulkReduceRows(ArrayView<float> first, ArrayView<float> second, ArrayView<float> output)
    {
        var tile = SharedMemory.Allocate<float>(BulkRows * BulkStride);
        int tid = Group.IdxX, block = Grid.IdxX * BulkRows * BulkColumns;
        for (int pass = 0; pass < 2; pass++)
        {
            var source = pass == 0 ? first : second;
            for (int e = tid; e < BulkRows * BulkColumns; e += Group.DimX)
                tile[e / BulkColumns * BulkStride + e % BulkColumns] = source[block + e];
            BulkCopy.FenceSharedForAsync();
            Group.Barrier();
            if (tid < BulkRows) BulkCopy.ReduceAdd(ref output[tid * BulkColumns], ref tile[tid * BulkStride], BulkColumns * sizeof(float));
            BulkCopy.Commit();
            BulkCopy.WaitRead(0);
            Group.Barrier();
        }
        BulkCopy.Wait(0);
    }

    /// <summary>
    /// The attention kernels' pattern end to end: A (16 × 16) by ldmatrix.x4; B (16 × 8) stored as rows of keys
    /// ([n][k], like K) by ldmatrix.x2, and stored as [k][n] (like V) by ldmatrix.x2.trans; both products into
    /// <paramref name="d"/> (problem 0: the [n][k] path, problem 1: the [k][n] path), C = 0.
    /// </summary>
    public static void MmaFromShared(ArrayView<Half> a, ArrayView<Half> bColumns, ArrayView<Half> bRows, ArrayView<float> d)
    {
        var tileA = SharedMemory.Allocate<Half>(16 * MatrixStride);
        var tileB = SharedMemory.Allocate<Half>(8 * MatrixStride);
        var tileBRows = SharedMemory.Allocate<Half>(16 * MatrixStride);
        for (int e = Group.IdxX; e < 256; e += Group.DimX) tileA[e / 16 * MatrixStride + e % 16] = a[e];
        for (int e = Group.IdxX; e < 128; e += Group.DimX) tileB[e / 16 * MatrixStride + e % 16] = bColumns[e];
        for (int e = Group.IdxX; e < 128; e += Group.DimX) tileBRows[e / 8 * MatrixStride + e % 8] = bRows[e];
        Group.Barrier();
        int lane = Warp.LaneIdx;
        // A: matrices (rows 0–7, k 0–7), (rows 8–15, k 0–7), (rows 0–7, k 8–15), (rows 8–15, k 8–15) → a0…a3
        var fa = TensorCore.LoadMatrixX4(ref tileA[(lane % 16) * MatrixStride + 8 * (lane / 16)]);
        // B as [n][k]: matrices (n 0–7, k 0–7), (n 0–7, k 8–15) → b0, b1
        var fb = TensorCore.LoadMatrixX2(ref tileB[(lane % 8) * MatrixStride + 8 * (lane / 8 % 2)]);
        // B as [k][n]: matrices (k 0–7), (k 8–15), transposed → b0, b1
        var fbt = TensorCore.LoadMatrixX2Transposed(ref tileBRows[(lane % 16) * MatrixStride]);
        var zero = new Float4(0f, 0f, 0f, 0f);
        StoreAccumulator(d, 0, TensorCore.MultiplyAddF16(fa, fb, zero));
        StoreAccumulator(d, 1, TensorCore.MultiplyAddF16(fa, fbt, zero));
    }

    /// <summary>Pairs of floats rounded and packed: fp16 into <paramref name="halves"/>, bf16 into <paramref name="bfloats"/>.</summary>
    public static void PackPairs(ArrayView<float> input, ArrayView<int> halves, ArrayView<int> bfloats)
    {
        int i = Grid.IdxX * Group.DimX + Group.IdxX;
        if (i >= halves.Length) return;
        halves[i] = TensorCore.PackHalf2(input[2 * i], input[2 * i + 1]);
        bfloats[i] = TensorCore.PackBFloat162(input[2 * i], input[2 * i + 1]);
    }

    public const int StagedRows = 8, StagedRowHalves = 64;

    /// <summary>
    /// Two fp16 tiles staged by cp.async in two commit groups: after WaitGroup(1) the first has landed (the second may
    /// still fly), after WaitGroup(0) both; each is read back reversed after its barrier, as a pipelined kernel does.
    /// </summary>
    public static void AsyncCopyGroups(ArrayView<Half> input, ArrayView<Half> output)
    {
        const int tileHalves = StagedRows * StagedRowHalves;
        var first = SharedMemory.Allocate<Half>(tileHalves);
        var second = SharedMemory.Allocate<Half>(tileHalves);
        for (int chunk = Group.IdxX; chunk < tileHalves / 8; chunk += Group.DimX)
            AsyncCopy.Copy16(ref first[8 * chunk], ref input[8 * chunk], true);
        AsyncCopy.Commit();
        for (int chunk = Group.IdxX; chunk < tileHalves / 8; chunk += Group.DimX)
            AsyncCopy.Copy16(ref second[8 * chunk], ref input[tileHalves + 8 * chunk], true);
        AsyncCopy.Commit();
        AsyncCopy.WaitGroup(1);
        Group.Barrier();
        for (int e = Group.IdxX; e < tileHalves; e += Group.DimX) output[e] = first[tileHalves - 1 - e];
        AsyncCopy.WaitGroup(0);
        Group.Barrier();
        for (int e = Group.IdxX; e < tileHalves; e += Group.DimX) output[tileHalves + e] = second[tileHalves - 1 - e];
    }

    public const int WarpGroupK = 64, WarpGroupN = 64;

    /// <summary>
    /// D (64 × 64, fp32) = A (64 × 64, row-major) · B (given as Bᵀ, 64 × 64 row-major) by four wgmma m64n64k16 on one
    /// warpgroup. B is staged by plain stores into shared memory in <paramref name="swizzle"/>'s layout
    /// (<see cref="SharedSwizzle"/>), K-major (w-byte rows of k, an 8-row atom; the tile split along k into blocks of w/2
    /// elements; no swizzle: 8 × 16-byte core matrices, k-adjacent ones 128 bytes apart) or, when
    /// <paramref name="transposeB"/>, MN-major (w-byte rows of n, one per k, 8 k a group; no swizzle: 8 k × 8 n core matrices,
    /// n-adjacent ones 128 bytes apart, k groups 1 KB apart); A likewise K-major, or, when <paramref name="registerA"/>,
    /// loaded straight into each warp's m16n8k16 A fragments. Each thread writes its 32 accumulators where the fragment
    /// layout puts them. The tiles start 1024-byte aligned in the shared window, as the swizzles' XOR of address bits 7–9
    /// assumes. <paramref name="brainFloat"/>: bf16 elements.
    /// </summary>
    public static void WarpGroupProduct<T>(ArrayView<T> a, ArrayView<T> b, ArrayView<float> output, SpecializedValue<int> swizzle,
        SpecializedValue<bool> brainFloat, SpecializedValue<bool> transposeB, SpecializedValue<bool> registerA, SpecializedValue<bool> transposeA)
        where T : unmanaged
    {
        const int k = WarpGroupK, n = WarpGroupN, tileBytes = 64 * k * 2;
        var mode = (SharedSwizzle)swizzle.Value;
        var shared = SharedMemory.GetDynamic<T>();
        uint window = SharedMemory.AddressOf(ref shared[0]);
        int aStart = (int)((1024 - window % 1024) % 1024), bStart = aStart + tileBytes;
        for (int e = Group.IdxX; e < 64 * k; e += Group.DimX)
        {
            int row = e / k, column = e % k;
            shared[(aStart + (transposeA.Value ? WarpGroupOffsetMnMajor(mode, row, column) : WarpGroupOffset(mode, row, column))) / 2] = a[e];
            shared[(bStart + (transposeB.Value ? WarpGroupOffsetMnMajor(mode, row, column) : WarpGroupOffset(mode, row, column))) / 2] = b[e];
        }
        BulkCopy.FenceSharedForAsync(); // generic-proxy stores, read next by the tensor cores (async proxy)
        Group.Barrier();

        int warp = Group.IdxX / 32 % 4, lane = Warp.LaneIdx, g = lane / 4, q = lane % 4;
        // A's fragments, all written before the fence (registers a product reads, defined after it, serialise the stage):
        // A[row][k] pairs of rows 16·warp + g (+ 8), k = 16·step + 2q (+ 8), the m16n8k16 A layout
        var pairs = a.Cast<int>();
        var fragments = LocalMemory.Allocate<int>(4 * (k / 16));
        for (int step = 0; step < k / 16 && registerA.Value; step++)
        {
            int first = (16 * warp + g) * (k / 2) + 8 * step + q;
            fragments[4 * step] = pairs[first];
            fragments[4 * step + 1] = pairs[first + 8 * (k / 2)];
            fragments[4 * step + 2] = pairs[first + 4];
            fragments[4 * step + 3] = pairs[first + 8 * (k / 2) + 4];
        }
        var d = new Floats32();
        WarpGroupMma.Fence();
        for (int step = 0; step < k / 16; step++)
        {
            ulong descriptorB = transposeB.Value
                ? WarpGroupDescriptorMnMajor(mode, window + (uint)bStart, step)
                : WarpGroupDescriptor(mode, window + (uint)bStart, step);
            if (registerA.Value)
            {
                var fragment = new Int4(fragments[4 * step], fragments[4 * step + 1], fragments[4 * step + 2], fragments[4 * step + 3]);
                d = brainFloat.Value
                    ? WarpGroupMma.MultiplyAddBF16(fragment, descriptorB, step > 0, d, transposeB.Value)
                    : WarpGroupMma.MultiplyAddF16(fragment, descriptorB, step > 0, d, transposeB.Value);
            }
            else
            {
                ulong descriptorA = transposeA.Value
                    ? WarpGroupDescriptorMnMajor(mode, window + (uint)aStart, step)
                    : WarpGroupDescriptor(mode, window + (uint)aStart, step);
                d = brainFloat.Value
                    ? WarpGroupMma.MultiplyAddBF16(descriptorA, descriptorB, step > 0, d, transposeB.Value, transposeA.Value)
                    : WarpGroupMma.MultiplyAddF16(descriptorA, descriptorB, step > 0, d, transposeB.Value, transposeA.Value);
            }
        }
        WarpGroupMma.Commit();
        WarpGroupMma.Wait(0);

        for (int i = 0; i < n / 2; i++)
            output[(16 * warp + g + 8 * (i / 2 % 2)) * n + 8 * (i / 4) + 2 * q + i % 2] = d[i];
    }

    private static int SwizzleWidth(SharedSwizzle mode) => mode == SharedSwizzle.Bytes128 ? 128 : mode == SharedSwizzle.Bytes64 ? 64 : 32;

    private static int Swizzled(int offset, int width) => offset ^ ((offset >> 7) & (width / 16 - 1)) << 4;

    /// <summary>Byte offset of element (row, k) of a 64 × <see cref="WarpGroupK"/> K-major tile in <paramref name="mode"/>'s layout.</summary>
    private static int WarpGroupOffset(SharedSwizzle mode, int row, int k)
    {
        if (mode == SharedSwizzle.None) return row / 8 * (WarpGroupK / 8 * 128) + k / 8 * 128 + row % 8 * 16 + 2 * (k % 8);
        int width = SwizzleWidth(mode), perRow = width / 2;
        return Swizzled(k / perRow * (64 * width) + row / 8 * (8 * width) + row % 8 * width + 2 * (k % perRow), width);
    }

    /// <summary>Byte offset of element (n, k) of a <see cref="WarpGroupN"/> × <see cref="WarpGroupK"/> tile stored MN-major.</summary>
    private static int WarpGroupOffsetMnMajor(SharedSwizzle mode, int n, int k)
    {
        if (mode == SharedSwizzle.None) return n / 8 * 128 + k / 8 * 1024 + k % 8 * 16 + 2 * (n % 8);
        int width = SwizzleWidth(mode), perRow = width / 2;
        return Swizzled(n / perRow * (WarpGroupK * width) + k * width + 2 * (n % perRow), width);
    }

    /// <summary>The descriptor of k-step <paramref name="step"/> (16 elements) of a K-major tile at shared address <paramref name="tile"/>.</summary>
    private static ulong WarpGroupDescriptor(SharedSwizzle mode, uint tile, int step)
    {
        if (mode == SharedSwizzle.None)
            return WarpGroupMma.Descriptor(tile + (uint)(2 * step * 128), mode, leadingByteOffset: 128, strideByteOffset: WarpGroupK / 8 * 128);
        int width = SwizzleWidth(mode), stepsPerBlock = width / 32;
        return WarpGroupMma.Descriptor(tile + (uint)(step / stepsPerBlock * 64 * width + step % stepsPerBlock * 32), mode,
            leadingByteOffset: 16, strideByteOffset: 8 * width);
    }

    /// <summary>The descriptor of k-step <paramref name="step"/> of an MN-major tile: k groups of 8 at the stride offset (1 KB
    /// without swizzle, 8 rows of w bytes with one), n groups at the leading offset (128 bytes, or a block of k rows).</summary>
    private static ulong WarpGroupDescriptorMnMajor(SharedSwizzle mode, uint tile, int step)
    {
        if (mode == SharedSwizzle.None)
            return WarpGroupMma.Descriptor(tile + (uint)(2 * step * 1024), mode, leadingByteOffset: 1024, strideByteOffset: 128);
        int width = SwizzleWidth(mode);
        return WarpGroupMma.Descriptor(tile + (uint)(16 * step * width), mode, leadingByteOffset: WarpGroupK * width, strideByteOffset: 8 * width);
    }

    public const int PipelineSteps = 4, PipelineTileHalves = 64 * 64;

    /// <summary>
    /// The FA3 main loop's machinery on one product, D (64 × 64) = A (64 × 256) · Bᵀ (B 64 × 256), in
    /// <see cref="PipelineSteps"/> k-blocks of 64 through a two-stage ring: warpgroup 1 produces (registers lowered), its
    /// first thread waiting for a stage's "empty" phase, announcing 16 KB on its "full" barrier and bulk-loading that
    /// k-block's A and B tiles (given pre-arranged in the 128-byte swizzled K-major layout, 8 KB each); warpgroup 0 consumes
    /// (registers raised), waiting for "full", running four wgmma m64n64k16 on the stage, then releasing it on "empty".
    /// Each consumer thread writes its 32 accumulators where the fragment layout puts them.
    /// </summary>
    [LaunchBounds(2 * WarpGroupMma.Threads, 1)]
    public static void WarpSpecializedProduct(ArrayView<Half> aTiles, ArrayView<Half> bTiles, ArrayView<float> output)
    {
        const int stageBytes = 4 * PipelineTileHalves;
        var barriers = SharedMemory.Allocate<ulong>(4); // full 0, full 1, empty 0, empty 1
        var shared = SharedMemory.GetDynamic<Half>();
        uint window = SharedMemory.AddressOf(ref shared[0]);
        int ring = (int)((1024 - window % 1024) % 1024);
        if (Group.IdxX == 0)
        {
            MBarrier.Init(ref barriers[0], 1);
            MBarrier.Init(ref barriers[1], 1);
            MBarrier.Init(ref barriers[2], WarpGroupMma.Threads);
            MBarrier.Init(ref barriers[3], WarpGroupMma.Threads);
        }
        Group.Barrier();
        if (Group.IdxX >= WarpGroupMma.Threads)
        {
            WarpGroup.DecreaseRegisters(40);
            if (Group.IdxX == WarpGroupMma.Threads)
                for (int step = 0; step < PipelineSteps; step++)
                {
                    int stage = step % 2, first = (ring + stage * stageBytes) / 2;
                    if (step >= 2) MBarrier.WaitParity(ref barriers[2 + stage], (step / 2 - 1) & 1);
                    MBarrier.ArriveExpectTransaction(ref barriers[stage], stageBytes);
                    BulkCopy.Load(ref shared[first], ref aTiles[step * PipelineTileHalves], 2 * PipelineTileHalves, ref barriers[stage]);
                    BulkCopy.Load(ref shared[first + PipelineTileHalves], ref bTiles[step * PipelineTileHalves], 2 * PipelineTileHalves, ref barriers[stage]);
                }
            return;
        }
        WarpGroup.IncreaseRegisters(232);
        var d = new Floats32();
        for (int step = 0; step < PipelineSteps; step++)
        {
            int stage = step % 2;
            uint tile = window + (uint)(ring + stage * stageBytes);
            MBarrier.WaitParity(ref barriers[stage], (step / 2) & 1);
            WarpGroupMma.Fence();
            for (int kk = 0; kk < 4; kk++)
                d = WarpGroupMma.MultiplyAddF16(WarpGroupMma.Descriptor(tile + (uint)(32 * kk), SharedSwizzle.Bytes128, 16, 1024),
                    WarpGroupMma.Descriptor(tile + (uint)(2 * PipelineTileHalves + 32 * kk), SharedSwizzle.Bytes128, 16, 1024), step > 0 || kk > 0, d);
            WarpGroupMma.Commit();
            WarpGroupMma.Wait(0);
            MBarrier.Arrive(ref barriers[2 + stage]);
        }
        int warp = Group.IdxX / 32, lane = Warp.LaneIdx, g = lane / 4, q = lane % 4;
        for (int i = 0; i < Floats32.Length; i++)
            output[(16 * warp + g + 8 * (i / 2 % 2)) * 64 + 8 * (i / 4) + 2 * q + i % 2] = d[i];
    }

    /// <summary>The tensor <see cref="TensorTileLoad"/> reads, as (batch, rows, heads, d) elements: a row of 56 halves (112 bytes,
    /// so boxes of 64 run past it), 3 heads, 100 rows, 2 batches.</summary>
    public const int TileTensorD = 56, TileTensorHeads = 3, TileTensorRows = 100, TileTensorBatches = 2;

    /// <summary>Rows of the box <see cref="TensorTileLoad"/> copies, and its groups.</summary>
    public const int TileBoxRows = 32, TileGroups = 12;

    /// <summary>Where group <paramref name="group"/>'s box starts, (d, head, row, batch): partly before and past the tensor in d
    /// and in rows.</summary>
    public static (int D, int Head, int Row, int Batch) TileOrigin(int group)
        => ((group % 4) switch { 1 => -16, 3 => 48, _ => 0 }, group % 3, (group / 2 % 3) switch { 0 => -8, 1 => 40, _ => 84 }, group / 3 % 2);

    /// <summary>
    /// One box of a four-dimensional tensor map per group by the tensor memory accelerator: thread 0 announces the bytes and
    /// asks for the box at <see cref="TileOrigin"/>, everyone waits on the mbarrier, then reads the box back through the
    /// swizzle written out here (the 16-byte chunk bits XOR the bits above a <paramref name="swizzleBytes"/>-byte row) into
    /// <paramref name="output"/>, <paramref name="boxD"/> × <see cref="TileBoxRows"/> halves per group.
    /// </summary>
    public static void TensorTileLoad(TensorMap map, ArrayView<Half> output, SpecializedValue<int> boxD, SpecializedValue<int> swizzleBytes)
    {
        var barrier = SharedMemory.Allocate<ulong>(1);
        var shared = SharedMemory.GetDynamic<Half>();
        uint window = SharedMemory.AddressOf(ref shared[0]);
        int first = (int)((1024 - window % 1024) % 1024) / 2, box = boxD.Value * TileBoxRows, group = Grid.IdxX, swizzle = swizzleBytes.Value;
        if (Group.IdxX == 0) MBarrier.Init(ref barrier[0], 1);
        Group.Barrier();
        if (Group.IdxX == 0)
        {
            var (d, head, row, batch) = TileOrigin(group);
            MBarrier.ArriveExpectTransaction(ref barrier[0], 2 * box);
            TensorCopy.Load(ref shared[first], in map, d, head, row, batch, ref barrier[0]);
        }
        MBarrier.WaitParity(ref barrier[0], 0);
        for (int e = Group.IdxX; e < box; e += Group.DimX)
        {
            int address = (int)window + 2 * (first + e);
            if (swizzle > 0) address ^= ((address >> 7) & (swizzle / 16 - 1)) << 4;
            output[group * box + e] = shared[(address - (int)window) / 2];
        }
    }
}
