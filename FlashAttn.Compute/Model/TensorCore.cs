using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Compute;

/// <summary>
/// Warp-level tensor-core operations (sm_80+): <c>mma.sync</c> m16n8k16 with fp16 or bf16 inputs and fp32 accumulators,
/// <c>ldmatrix</c> loads of 8 × 8 b16 matrices from shared memory into fragments, their inverse <c>stmatrix</c> (sm_90),
/// and the f32×2 → 16-bit×2 packing that
/// turns accumulators back into an A operand. Every lane of the warp must call these together (like a shuffle).
/// </summary>
/// <remarks>
/// Fragment layouts (PTX ISA, "Matrix fragments for mma.m16n8k16"), lane = 4·g + t (g = lane / 4, t = lane % 4); a 32-bit
/// register holds two 16-bit elements, the lower-indexed one in the low half:
/// <list type="bullet">
/// <item>A (16 × 16, row-major) as <see cref="Int4"/>: X = A[g][2t, 2t+1], Y = A[g+8][2t, 2t+1], Z = A[g][2t+8, 2t+9],
/// W = A[g+8][2t+8, 2t+9].</item>
/// <item>B (16 × 8, given column by column, i.e. as Bᵀ row-major) as <see cref="Int2"/>: X = B[2t, 2t+1][g],
/// Y = B[2t+8, 2t+9][g].</item>
/// <item>C and D (16 × 8 fp32) as <see cref="Float4"/>: X, Y = C[g][2t, 2t+1]; Z, W = C[g+8][2t, 2t+1].</item>
/// <item>m16n8k8 with tf32 inputs, one element per 32-bit register: A (16 × 8) as <see cref="Int4"/>: X = A[g][t],
/// Y = A[g+8][t], Z = A[g][t+4], W = A[g+8][t+4]; B (8 × 8) as <see cref="Int2"/>: X = B[t][g], Y = B[t+4][g]; C and D as
/// above. The hardware reads only the upper 19 bits of each input (sign, exponent, 10 mantissa bits).</item>
/// <item><c>ldmatrix</c> xN: lanes 8j … 8j+7 give the row addresses (16 bytes each) of matrix j; register j of lane l holds
/// row l / 4, columns 2(l % 4), 2(l % 4)+1 of matrix j (transposed: column l / 4, rows 2(l % 4), 2(l % 4)+1).</item>
/// <item><c>stmatrix</c> xN (sm_90), the same layout the other way: lane 8j + r gives the address of row r of matrix j and
/// that row is written from register j of lanes 4r … 4r+3 (lane 4r + c gives columns 2c, 2c+1); transposed, row r is
/// column r of the registers' matrix: element k from lane 4k + r / 2, half r % 2.</item>
/// </list>
/// On the CPU the lanes exchange their registers (<see cref="CpuContext.WarpExchange"/>) and each computes its own part
/// of the result with exactly these layouts, so a fragment bug fails on the CPU as it would on the GPU. Products add into
/// the accumulators as <see cref="TensorCoreAccumulation"/> models the hardware: exact products, 16 bytes of k per step,
/// truncated toward zero (results may differ from the GPU's in the last bits).
/// </remarks>
public static class TensorCore
{
    /// <summary>D = A·B + C for a 16 × 16 fp16 A, a 16 × 8 fp16 B and fp32 C (layouts in the class remarks).</summary>
    [Intrinsic(IntrinsicOp.MmaF16)]
    public static Float4 MultiplyAddF16(Int4 a, Int2 b, Float4 c) => MultiplyAddOnCpu(CpuContext.Current, a, b, c, MmaInputs.Float16);

    /// <summary>D = A·B + C for a 16 × 16 bf16 A, a 16 × 8 bf16 B and fp32 C (layouts in the class remarks).</summary>
    [Intrinsic(IntrinsicOp.MmaBF16)]
    public static Float4 MultiplyAddBF16(Int4 a, Int2 b, Float4 c) => MultiplyAddOnCpu(CpuContext.Current, a, b, c, MmaInputs.BFloat16);

    /// <summary>
    /// D = A·B + C for a 16 × 8 tf32 A, an 8 × 8 tf32 B and fp32 C (m16n8k8; layouts in the class remarks). Inputs are fp32
    /// bit patterns of which the low 13 bits are ignored: round them first (<see cref="RoundToTf32"/>) for a rounded rather
    /// than truncated operand.
    /// </summary>
    [Intrinsic(IntrinsicOp.MmaTf32)]
    public static Float4 MultiplyAddTf32(Int4 a, Int2 b, Float4 c) => MultiplyAddOnCpu(CpuContext.Current, a, b, c, MmaInputs.TensorFloat32);

    /// <summary>
    /// <c>cvt.rna.tf32.f32</c>: <paramref name="value"/> rounded to tf32 (10 mantissa bits, ties away from zero), returned as
    /// fp32 bits whose low 13 bits are zero. With <c>hi = RoundToTf32(x)</c> and <c>lo = RoundToTf32(x − hi)</c>, hi + lo
    /// carries 21–22 of x's 24 significant bits (the 3×TF32 split).
    /// </summary>
    [Intrinsic(IntrinsicOp.RoundToTf32)]
    public static int RoundToTf32(float value)
    {
        int bits = BitConverter.SingleToInt32Bits(value);
        if (!float.IsFinite(value)) return bits; // ∞ and NaN pass through
        // add half of the dropped part's range to the magnitude, then truncate: ties go away from zero; a carry into the
        // exponent is the correct rounding up (to ∞ past the largest tf32)
        return (bits + Tf32HalfUlp) & ~Tf32DroppedBits;
    }

    /// <summary>ldmatrix .x1: one 8 × 8 matrix whose row addresses lanes 0–7 give (the others' are ignored).</summary>
    [Intrinsic(IntrinsicOp.LoadMatrix)]
    public static int LoadMatrixX1<T>(ref T sharedRow) where T : unmanaged
        => LoadMatrixOnCpu(CpuContext.Current, ref sharedRow, 1, transposed: false)[0];

    /// <summary>ldmatrix .x2: two 8 × 8 matrices, row addresses from lanes 0–15.</summary>
    [Intrinsic(IntrinsicOp.LoadMatrix)]
    public static Int2 LoadMatrixX2<T>(ref T sharedRow) where T : unmanaged
    {
        var r = LoadMatrixOnCpu(CpuContext.Current, ref sharedRow, 2, transposed: false);
        return new Int2(r[0], r[1]);
    }

    /// <summary>ldmatrix .x4: four 8 × 8 matrices, row addresses from all lanes.</summary>
    [Intrinsic(IntrinsicOp.LoadMatrix)]
    public static Int4 LoadMatrixX4<T>(ref T sharedRow) where T : unmanaged
    {
        var r = LoadMatrixOnCpu(CpuContext.Current, ref sharedRow, 4, transposed: false);
        return new Int4(r[0], r[1], r[2], r[3]);
    }

    /// <summary>ldmatrix .x2.trans: two 8 × 8 matrices, each transposed.</summary>
    [Intrinsic(IntrinsicOp.LoadMatrixTransposed)]
    public static Int2 LoadMatrixX2Transposed<T>(ref T sharedRow) where T : unmanaged
    {
        var r = LoadMatrixOnCpu(CpuContext.Current, ref sharedRow, 2, transposed: true);
        return new Int2(r[0], r[1]);
    }

    /// <summary>ldmatrix .x4.trans: four 8 × 8 matrices, each transposed.</summary>
    [Intrinsic(IntrinsicOp.LoadMatrixTransposed)]
    public static Int4 LoadMatrixX4Transposed<T>(ref T sharedRow) where T : unmanaged
    {
        var r = LoadMatrixOnCpu(CpuContext.Current, ref sharedRow, 4, transposed: true);
        return new Int4(r[0], r[1], r[2], r[3]);
    }

    /// <summary>
    /// stmatrix .x2 (sm_90; older targets store the same bytes by shuffles and 32-bit stores):
    /// two 8 × 8 matrices of 16-bit elements from registers X, Y into shared memory. Lane 8j + r
    /// (lanes 0–15) gives in <paramref name="sharedRow"/> the address of row r of matrix j (16 contiguous bytes); register j
    /// of lane l holds row l / 4, columns 2(l % 4) (low half) and 2(l % 4)+1 of matrix j, as <see cref="LoadMatrixX2{T}"/>
    /// returns them.
    /// </summary>
    [Intrinsic(IntrinsicOp.StoreMatrix)]
    public static void StoreMatrixX2<T>(ref T sharedRow, Int2 value) where T : unmanaged
        => StoreMatrixOnCpu(CpuContext.Current, ref sharedRow, [value.X, value.Y], transposed: false);

    /// <summary>
    /// stmatrix .x4 (sm_90; older targets store the same bytes by shuffles and 32-bit stores):
    /// four 8 × 8 matrices of 16-bit elements from registers X, Y, Z, W into shared memory, the
    /// inverse of <see cref="LoadMatrixX4{T}"/>. Lane 8j + r gives in <paramref name="sharedRow"/> the address of row r of
    /// matrix j (16 contiguous bytes, 16-byte aligned); register j of lane l holds row l / 4, columns 2(l % 4) (low half)
    /// and 2(l % 4)+1 of matrix j. So row r of matrix j is written at lane (8j + r)'s address, its columns 2c, 2c+1 from
    /// lane 4r + c's register j. Every lane of the warp must call it together; other threads see the rows after a barrier.
    /// </summary>
    [Intrinsic(IntrinsicOp.StoreMatrix)]
    public static void StoreMatrixX4<T>(ref T sharedRow, Int4 value) where T : unmanaged
        => StoreMatrixOnCpu(CpuContext.Current, ref sharedRow, [value.X, value.Y, value.Z, value.W], transposed: false);

    /// <summary>stmatrix .x2.trans (sm_90 only): <see cref="StoreMatrixX2{T}"/> with each 8 × 8 matrix transposed, the inverse of
    /// <see cref="LoadMatrixX2Transposed{T}"/>.</summary>
    [Intrinsic(IntrinsicOp.StoreMatrixTransposed)]
    public static void StoreMatrixX2Transposed<T>(ref T sharedRow, Int2 value) where T : unmanaged
        => StoreMatrixOnCpu(CpuContext.Current, ref sharedRow, [value.X, value.Y], transposed: true);

    /// <summary>stmatrix .x4.trans (sm_90 only): <see cref="StoreMatrixX4{T}"/> with each 8 × 8 matrix transposed, the inverse of
    /// <see cref="LoadMatrixX4Transposed{T}"/>.</summary>
    [Intrinsic(IntrinsicOp.StoreMatrixTransposed)]
    public static void StoreMatrixX4Transposed<T>(ref T sharedRow, Int4 value) where T : unmanaged
        => StoreMatrixOnCpu(CpuContext.Current, ref sharedRow, [value.X, value.Y, value.Z, value.W], transposed: true);

    /// <summary>Rounds two floats to fp16 (nearest even) and packs them, <paramref name="low"/> in bits 0–15.</summary>
    [Intrinsic(IntrinsicOp.PackHalf2)]
    public static int PackHalf2(float low, float high)
        => BitConverter.HalfToUInt16Bits((Half)low) | (BitConverter.HalfToUInt16Bits((Half)high) << 16);

    /// <summary>Rounds two floats to bf16 (nearest even) and packs them, <paramref name="low"/> in bits 0–15.</summary>
    [Intrinsic(IntrinsicOp.PackBFloat162)]
    public static int PackBFloat162(float low, float high)
        => ((BFloat16)low).RawValue | (((BFloat16)high).RawValue << 16);

    // ---- CPU meaning (also the IR interpreter's) ----------------------------------------------------------

    private const int ARegisters = 4, BRegisters = 2;

    /// <summary>The mantissa bits tf32 drops, and half of their range (the rna rounding increment).</summary>
    private const int Tf32DroppedBits = 0x1FFF, Tf32HalfUlp = 0x1000;

    /// <summary>The input type of an mma, which fixes its k and how a register holds its elements.</summary>
    internal enum MmaInputs { Float16, BFloat16, TensorFloat32 }

    /// <summary>
    /// The lane's D of one mma (m16n8k16 for 16-bit inputs, m16n8k8 for tf32): every lane publishes its A and B registers,
    /// then sums its four outputs.
    /// </summary>
    internal static Float4 MultiplyAddOnCpu(CpuContext context, Int4 a, Int2 b, Float4 c, MmaInputs inputs)
    {
        ReadOnlySpan<int> mine = [a.X, a.Y, a.Z, a.W, b.X, b.Y];
        var all = context.WarpExchange(mine);
        int lane = context.LaneIndex, g = lane / 4, t = lane % 4;
        const int words = CpuBarrierPoint.WideExchangeWords;
        bool tf32 = inputs == MmaInputs.TensorFloat32;
        int depth = tf32 ? 8 : 16;

        float A(int row, int k) => tf32
            // A[row][k]: lane 4·(row % 8) + k % 4, register (row ≥ 8) + 2·(k ≥ 4)
            ? Tf32Element(all[(4 * (row % 8) + k % 4) * words + (row >= 8 ? 1 : 0) + (k >= 4 ? 2 : 0)])
            : HalfAElement(all, row, k, inputs);
        float B(int k, int col) => tf32
            // B[k][col]: lane 4·col + k % 4, register ARegisters + (k ≥ 4)
            ? Tf32Element(all[(4 * col + k % 4) * words + ARegisters + (k >= 4 ? 1 : 0)])
            // B[k][col]: lane 4·col + (k % 8) / 2, register ARegisters + (k ≥ 8), half k % 2
            : Element(all[(4 * col + k % 8 / 2) * words + ARegisters + (k >= 8 ? 1 : 0)], k % 2, inputs);
        int group = TensorCoreAccumulation.GroupBytes / (tf32 ? 4 : 2);
        float Dot(int row, int col, float accumulator)
        {
            // tf32 and 16-bit products are exact in fp64 (at most 22 significant bits)
            Span<double> products = stackalloc double[group];
            for (int k0 = 0; k0 < depth; k0 += group)
            {
                for (int k = 0; k < group; k++) products[k] = (double)A(row, k0 + k) * B(k0 + k, col);
                accumulator = TensorCoreAccumulation.Add(accumulator, products);
            }
            return accumulator;
        }
        return new Float4(Dot(g, 2 * t, c.X), Dot(g, 2 * t + 1, c.Y), Dot(g + 8, 2 * t, c.Z), Dot(g + 8, 2 * t + 1, c.W));
    }

    /// <summary>A[row][k] of a 16 × 16 16-bit A operand whose fragments the warp published (<see cref="CpuContext.WarpExchange"/>,
    /// the four A registers first): lane 4·(row % 8) + (k % 8) / 2, register (row ≥ 8) + 2·(k ≥ 8), half k % 2.</summary>
    internal static float HalfAElement(int[] all, int row, int k, MmaInputs inputs)
        => Element(all[(4 * (row % 8) + k % 8 / 2) * CpuBarrierPoint.WideExchangeWords + (row >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0)], k % 2, inputs);

    /// <summary>The 16-bit element <paramref name="half"/> (0: low) of a fragment register, widened to float.</summary>
    private static float Element(int register, int half, MmaInputs inputs)
    {
        ushort bits = (ushort)(register >> (16 * half));
        return inputs == MmaInputs.BFloat16 ? BFloat16.FromRawValue(bits) : (float)BitConverter.UInt16BitsToHalf(bits);
    }

    /// <summary>A tf32 operand register as the tensor core reads it: the fp32 bits with the low 13 truncated.</summary>
    private static float Tf32Element(int register) => BitConverter.Int32BitsToSingle(register & ~Tf32DroppedBits);

    /// <summary>
    /// The lane's registers of an ldmatrix of <paramref name="count"/> matrices: every lane publishes its row address,
    /// then reads its two elements of each matrix from the rows of the lanes that own them.
    /// </summary>
    internal static unsafe int[] LoadMatrixOnCpu<T>(CpuContext context, ref T sharedRow, int count, bool transposed) where T : unmanaged
    {
        if (sizeof(T) != 2) throw new NotSupportedException($"ldmatrix loads 16-bit elements, not {typeof(T).Name}.");
        long address = (long)System.Runtime.CompilerServices.Unsafe.AsPointer(ref sharedRow);
        return LoadMatrixOnCpu(context, address, count, transposed);
    }

    /// <summary><see cref="LoadMatrixOnCpu{T}(CpuContext, ref T, int, bool)"/> from a raw row address.</summary>
    internal static unsafe int[] LoadMatrixOnCpu(CpuContext context, long address, int count, bool transposed)
    {
        ReadOnlySpan<int> mine = [(int)address, (int)(address >> 32)];
        var all = context.WarpExchange(mine);
        const int words = CpuBarrierPoint.WideExchangeWords;
        ushort* Row(int lane) => (ushort*)((uint)all[lane * words] | ((long)all[lane * words + 1] << 32));
        int l = context.LaneIndex, row = l / 4, pair = 2 * (l % 4);
        var registers = new int[count];
        for (int j = 0; j < count; j++)
        {
            ushort low, high;
            if (transposed)
            {
                low = Row(8 * j + pair)[row];
                high = Row(8 * j + pair + 1)[row];
            }
            else
            {
                low = Row(8 * j + row)[pair];
                high = Row(8 * j + row)[pair + 1];
            }
            registers[j] = low | (high << 16);
        }
        return registers;
    }

    /// <summary>
    /// A stmatrix of <paramref name="registers"/>.Length matrices: every lane publishes its registers, then the lanes that
    /// give a row address (8 per matrix) write their row, gathered from the four lanes that hold it. Only the registers
    /// travel: each lane writes at its own address.
    /// </summary>
    internal static unsafe void StoreMatrixOnCpu<T>(CpuContext context, ref T sharedRow, ReadOnlySpan<int> registers, bool transposed)
        where T : unmanaged
    {
        if (sizeof(T) != 2) throw new NotSupportedException($"stmatrix stores 16-bit elements, not {typeof(T).Name}.");
        long address = (long)System.Runtime.CompilerServices.Unsafe.AsPointer(ref sharedRow);
        StoreMatrixOnCpu(context, address, registers, transposed);
    }

    /// <summary><see cref="StoreMatrixOnCpu{T}(CpuContext, ref T, ReadOnlySpan{int}, bool)"/> to a raw row address.</summary>
    internal static unsafe void StoreMatrixOnCpu(CpuContext context, long address, ReadOnlySpan<int> registers, bool transposed)
    {
        var all = context.WarpExchange(registers);
        const int words = CpuBarrierPoint.WideExchangeWords;
        int l = context.LaneIndex, matrix = l / 8, row = l % 8;
        if (matrix >= registers.Length) return; // lanes past the last matrix's rows give no address
        int Register(int lane) => all[lane * words + matrix];
        var destination = (ushort*)address;
        for (int column = 0; column < 8; column++)
        {
            int register = transposed
                // stored row r is column r of the fragment matrix: its element k sits in lane 4k + r / 2, half r % 2
                ? Register(4 * column + row / 2) >> (16 * (row % 2))
                // row r, columns 2c and 2c+1 sit in lane 4r + c
                : Register(4 * row + column / 2) >> (16 * (column % 2));
            destination[column] = (ushort)register;
        }
    }
}
