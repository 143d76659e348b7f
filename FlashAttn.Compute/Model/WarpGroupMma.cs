using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Compute;

/// <summary>How a shared-memory operand of <see cref="WarpGroupMma"/> is swizzled (the descriptor's bits 62–63).</summary>
public enum SharedSwizzle
{
    /// <summary>No swizzle: 8 × 16-byte core matrices, each 128 contiguous bytes.</summary>
    None = 0,

    /// <summary>128-byte rows; the 16-byte chunk index (address bits 4–6) XOR the row within an 8-row atom (bits 7–9).</summary>
    Bytes128 = 1,

    /// <summary>64-byte rows; address bits 4–5 XOR bits 7–8.</summary>
    Bytes64 = 2,

    /// <summary>32-byte rows; address bit 4 XOR bit 7.</summary>
    Bytes32 = 3,
}

/// <summary>
/// Warpgroup-level tensor-core operations (Hopper, <c>sm_90a</c>): <c>wgmma.mma_async</c> m64nNk16 with fp16 or bf16 inputs
/// read from shared memory through matrix descriptors and fp32 accumulators in registers, and the fence, commit and wait
/// that order them. A warpgroup is 4 consecutive warps starting at a warp index divisible by 4; all 128 threads call each
/// of these together. A module that uses them targets <c>sm_90a</c> (the PTX backend writes <c>.target sm_90a</c>).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Operands (PTX ISA, "Asynchronous warpgroup level matrix shared memory layout"), K-major: A is 64 × 16 (m × k), B is
/// 16 × N given as N rows of k (Bᵀ row-major), each row's 16 elements contiguous in 16-byte chunks. An element (row mn, k)
/// of an operand whose descriptor has start address S, leading byte offset L, stride byte offset T lies at:
/// no swizzle, S + (mn / 8)·T + (k / 8)·L + (mn % 8)·16 + 2·(k % 8); a w-byte swizzle (w = 32, 64, 128), at
/// a = S + (mn / 8)·T + (mn % 8)·w + 2k with the 16-byte chunk bits of a XOR the row bits above w (a ^ ((a &gt;&gt; 7) &amp;
/// (w/16 − 1)) &lt;&lt; 4): an 8-row atom of w-byte rows, aligned to 8w bytes in the shared window (base offset 0).</item>
/// <item>Accumulators (D, N/2 floats a thread): thread t of the warpgroup, warp w = t / 32 % 4, lane = 4g + q; register i
/// holds row 16w + g + 8·(i / 2 % 2), column 8·(i / 4) + 2q + i % 2 — the m16n8 accumulator tiles of <see cref="TensorCore"/>,
/// one per 8 columns, warp w taking rows 16w … 16w + 15.</item>
/// </list>
/// On the CPU a product is computed at the call from shared memory as the descriptors address it (each thread its own
/// accumulators; the accumulation as <see cref="TensorCoreAccumulation"/> models it); the fence, commit and wait do
/// nothing there, but a kernel needs them on the GPU: <see cref="Fence"/> before the first product that reads accumulators
/// or shared memory written since, <see cref="Commit"/> after a batch, <see cref="Wait"/> before the accumulators are read.
/// </remarks>
public static class WarpGroupMma
{
    /// <summary>Threads of a warpgroup.</summary>
    public const int Threads = 128;

    /// <summary>wgmma.fence: orders the registers and shared memory written before it ahead of the next products.</summary>
    [Intrinsic(IntrinsicOp.WarpGroupFence)]
    public static void Fence() { }

    /// <summary>wgmma.commit_group: closes the group of the products issued since the last commit.</summary>
    [Intrinsic(IntrinsicOp.WarpGroupCommit)]
    public static void Commit() { }

    /// <summary>wgmma.wait_group N: waits until at most <paramref name="pendingGroups"/> (a constant, 0–7) committed groups are in
    /// flight; the accumulators of the older ones may then be read.</summary>
    [Intrinsic(IntrinsicOp.WarpGroupWait)]
    public static void Wait(int pendingGroups) { _ = pendingGroups; }

    /// <summary>m64n32k16, fp16: D = A·B + (<paramref name="accumulate"/> ? D : 0) (layouts in the class remarks).</summary>
    [Intrinsic(IntrinsicOp.WarpGroupMmaF16)]
    public static Floats16 MultiplyAddF16(ulong a, ulong b, bool accumulate, Floats16 d)
    {
        MultiplyAddOnCpu(CpuContext.Current, a, b, accumulate, d.AsSpan(), TensorCore.MmaInputs.Float16);
        return d;
    }

    /// <summary>m64n64k16, fp16 (layouts in the class remarks).</summary>
    [Intrinsic(IntrinsicOp.WarpGroupMmaF16)]
    public static Floats32 MultiplyAddF16(ulong a, ulong b, bool accumulate, Floats32 d)
    {
        MultiplyAddOnCpu(CpuContext.Current, a, b, accumulate, d.AsSpan(), TensorCore.MmaInputs.Float16);
        return d;
    }

    /// <summary>m64n128k16, fp16 (layouts in the class remarks).</summary>
    [Intrinsic(IntrinsicOp.WarpGroupMmaF16)]
    public static Floats64 MultiplyAddF16(ulong a, ulong b, bool accumulate, Floats64 d)
    {
        MultiplyAddOnCpu(CpuContext.Current, a, b, accumulate, d.AsSpan(), TensorCore.MmaInputs.Float16);
        return d;
    }

    /// <summary>m64n32k16, bf16 (layouts in the class remarks).</summary>
    [Intrinsic(IntrinsicOp.WarpGroupMmaBF16)]
    public static Floats16 MultiplyAddBF16(ulong a, ulong b, bool accumulate, Floats16 d)
    {
        MultiplyAddOnCpu(CpuContext.Current, a, b, accumulate, d.AsSpan(), TensorCore.MmaInputs.BFloat16);
        return d;
    }

    /// <summary>m64n64k16, bf16 (layouts in the class remarks).</summary>
    [Intrinsic(IntrinsicOp.WarpGroupMmaBF16)]
    public static Floats32 MultiplyAddBF16(ulong a, ulong b, bool accumulate, Floats32 d)
    {
        MultiplyAddOnCpu(CpuContext.Current, a, b, accumulate, d.AsSpan(), TensorCore.MmaInputs.BFloat16);
        return d;
    }

    /// <summary>m64n128k16, bf16 (layouts in the class remarks).</summary>
    [Intrinsic(IntrinsicOp.WarpGroupMmaBF16)]
    public static Floats64 MultiplyAddBF16(ulong a, ulong b, bool accumulate, Floats64 d)
    {
        MultiplyAddOnCpu(CpuContext.Current, a, b, accumulate, d.AsSpan(), TensorCore.MmaInputs.BFloat16);
        return d;
    }

    /// <summary>
    /// The matrix descriptor of a shared-memory operand: its first element's 32-bit shared address
    /// (<see cref="SharedMemory.AddressOf{T}"/>), the <paramref name="swizzle"/>, and the byte offsets between core matrices
    /// adjacent along k (<paramref name="leadingByteOffset"/>; unused by the swizzled K-major layouts) and along m or n
    /// (<paramref name="strideByteOffset"/>). Addresses and offsets are multiples of 16 below 256 KB.
    /// </summary>
    public static ulong Descriptor(uint sharedAddress, SharedSwizzle swizzle, int leadingByteOffset, int strideByteOffset)
        => (sharedAddress >> 4 & 0x3FFFu)
            | (ulong)((uint)leadingByteOffset >> 4 & 0x3FFFu) << 16
            | (ulong)((uint)strideByteOffset >> 4 & 0x3FFFu) << 32
            | (ulong)(uint)swizzle << 62;

    /// <summary>The shared-window byte address of element (<paramref name="mn"/>, <paramref name="k"/>) of a K-major 16-bit
    /// operand described by <paramref name="descriptor"/> (the class remarks).</summary>
    internal static int ElementAddress(ulong descriptor, int mn, int k)
    {
        if ((descriptor >> 49 & 7) != 0) throw new NotSupportedException("A descriptor's base offset (bits 49–51) is not modelled: align the swizzle atom instead.");
        int start = (int)(descriptor & 0x3FFF) << 4, leading = (int)(descriptor >> 16 & 0x3FFF) << 4;
        int stride = (int)(descriptor >> 32 & 0x3FFF) << 4, row = mn % 8, byteInRow = 2 * k;
        var swizzle = (SharedSwizzle)(descriptor >> 62);
        if (swizzle == SharedSwizzle.None) return start + mn / 8 * stride + byteInRow / 16 * leading + row * 16 + byteInRow % 16;
        int width = swizzle switch { SharedSwizzle.Bytes128 => 128, SharedSwizzle.Bytes64 => 64, _ => 32 };
        int address = start + mn / 8 * stride + row * width + byteInRow;
        return address ^ ((address >> 7) & (width / 16 - 1)) << 4;
    }

    /// <summary>The calling thread's accumulators of one m64nNk16 product (N = 2 · <paramref name="d"/>.Length), in place.</summary>
    internal static unsafe void MultiplyAddOnCpu(CpuContext context, ulong a, ulong b, bool accumulate, Span<float> d, TensorCore.MmaInputs inputs)
    {
        var index = context.ThreadIndex;
        var dim = context.GroupDim;
        long thread = index.X + dim.X * (index.Y + (long)dim.Y * index.Z);
        if (dim.Size % Threads != 0)
            throw new InvalidOperationException($"A warpgroup MMA needs whole warpgroups of {Threads} threads; the group has {dim.Size}.");
        int warp = (int)(thread / 32 % 4), lane = context.LaneIndex, g = lane / 4, q = lane % 4;
        byte* window = (byte*)context.DynamicShared;
        float Element(ulong descriptor, int mn, int k)
        {
            ushort bits = *(ushort*)(window + ElementAddress(descriptor, mn, k));
            return inputs == TensorCore.MmaInputs.BFloat16 ? BFloat16.FromRawValue(bits) : (float)BitConverter.UInt16BitsToHalf(bits);
        }
        int group = TensorCoreAccumulation.GroupBytes / 2;
        Span<double> products = stackalloc double[group];
        for (int i = 0; i < d.Length; i++)
        {
            int row = 16 * warp + g + 8 * (i / 2 % 2), column = 8 * (i / 4) + 2 * q + i % 2;
            float accumulator = accumulate ? d[i] : 0f;
            for (int k0 = 0; k0 < 16; k0 += group)
            {
                for (int k = 0; k < group; k++) products[k] = (double)Element(a, row, k0 + k) * Element(b, column, k0 + k);
                accumulator = TensorCoreAccumulation.Add(accumulator, products);
            }
            d[i] = accumulator;
        }
    }
}
