using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Compute;

/// <summary>
/// Warp-level tensor-core operations (sm_80+): <c>mma.sync</c> m16n8k16 with fp16 or bf16 inputs and fp32 accumulators,
/// <c>ldmatrix</c> loads of 8 × 8 b16 matrices from shared memory into fragments, and the f32×2 → 16-bit×2 packing that
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
/// <item><c>ldmatrix</c> xN: lanes 8j … 8j+7 give the row addresses (16 bytes each) of matrix j; register j of lane l holds
/// row l / 4, columns 2(l % 4), 2(l % 4)+1 of matrix j (transposed: column l / 4, rows 2(l % 4), 2(l % 4)+1).</item>
/// </list>
/// On the CPU the lanes exchange their registers (<see cref="CpuContext.WarpExchange"/>) and each computes its own part
/// of the result with exactly these layouts, so a fragment bug fails on the CPU as it would on the GPU. Products are
/// exact and accumulate in fp32 in k order (the hardware's order is unspecified: results may differ in the last bits).
/// </remarks>
public static class TensorCore
{
    /// <summary>D = A·B + C for a 16 × 16 fp16 A, a 16 × 8 fp16 B and fp32 C (layouts in the class remarks).</summary>
    [Intrinsic(IntrinsicOp.MmaF16)]
    public static Float4 MultiplyAddF16(Int4 a, Int2 b, Float4 c) => MultiplyAddOnCpu(CpuContext.Current, a, b, c, bfloat: false);

    /// <summary>D = A·B + C for a 16 × 16 bf16 A, a 16 × 8 bf16 B and fp32 C (layouts in the class remarks).</summary>
    [Intrinsic(IntrinsicOp.MmaBF16)]
    public static Float4 MultiplyAddBF16(Int4 a, Int2 b, Float4 c) => MultiplyAddOnCpu(CpuContext.Current, a, b, c, bfloat: true);

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

    /// <summary>The lane's D of one m16n8k16 product: every lane publishes its A and B registers, then sums its four outputs.</summary>
    internal static Float4 MultiplyAddOnCpu(CpuContext context, Int4 a, Int2 b, Float4 c, bool bfloat)
    {
        ReadOnlySpan<int> mine = [a.X, a.Y, a.Z, a.W, b.X, b.Y];
        var all = context.WarpExchange(mine);
        int lane = context.LaneIndex, g = lane / 4, t = lane % 4;
        const int words = CpuBarrierPoint.WideExchangeWords;

        // A[row][k]: lane 4·(row % 8) + (k % 8) / 2, register (row ≥ 8) + 2·(k ≥ 8), half k % 2
        float A(int row, int k) => Element(all[(4 * (row % 8) + k % 8 / 2) * words + (row >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0)], k % 2, bfloat);
        // B[k][col]: lane 4·col + (k % 8) / 2, register ARegisters + (k ≥ 8), half k % 2
        float B(int k, int col) => Element(all[(4 * col + k % 8 / 2) * words + ARegisters + (k >= 8 ? 1 : 0)], k % 2, bfloat);
        float Dot(int row, int col, float accumulator)
        {
            for (int k = 0; k < 16; k++) accumulator = MathF.FusedMultiplyAdd(A(row, k), B(k, col), accumulator);
            return accumulator;
        }
        return new Float4(Dot(g, 2 * t, c.X), Dot(g, 2 * t + 1, c.Y), Dot(g + 8, 2 * t, c.Z), Dot(g + 8, 2 * t + 1, c.W));
    }

    /// <summary>The 16-bit element <paramref name="half"/> (0: low) of a fragment register, widened to float.</summary>
    private static float Element(int register, int half, bool bfloat)
    {
        ushort bits = (ushort)(register >> (16 * half));
        return bfloat ? BFloat16.FromRawValue(bits) : (float)BitConverter.UInt16BitsToHalf(bits);
    }

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
}
