using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Compute;

/// <summary>
/// Warpgroup-level tensor-core operations (Hopper, <c>sm_90a</c>): <c>wgmma.mma_async</c> m64nNk16 with fp16 or bf16 inputs,
/// B (and A, or A from registers) read from shared memory through matrix descriptors, fp32 accumulators in registers, and
/// the fence, commit and wait that order them. A warpgroup is 4 consecutive warps starting at a warp index divisible by 4;
/// all 128 threads call each of these together. A module that uses them targets <c>sm_90a</c> (the PTX backend writes
/// <c>.target sm_90a</c>; <c>AcceleratorInfo.HasWarpGroupMma</c>).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Shared-memory operands (PTX ISA, "Asynchronous warpgroup level matrix shared memory layout"; CUTLASS's canonical
/// GMMA layouts), 16-bit elements, a descriptor with start address S, leading byte offset L, stride byte offset T.
/// K-major (A always; B by default, given as N rows of k): element (mn, k) at S + (mn / 8)·T + (k / 8)·L + (mn % 8)·16 +
/// 2·(k % 8) without swizzle, and with a w-byte swizzle (w = 32, 64, 128) at a = S + (mn / 8)·T + (mn % 8)·w + 2k.
/// MN-major (B with <c>transposeB</c>, e.g. V given as k rows of n): (mn, k) at S + (mn / 8)·T + (k / 8)·L + (k % 8)·16 +
/// 2·(mn % 8) without swizzle, at a = S + (mn / (w/2))·L + (k / 8)·T + (k % 8)·w + 2·(mn % (w/2)) with one. A swizzled
/// address then has its 16-byte chunk bits XOR the row bits above w: a ^ ((a &gt;&gt; 7) &amp; (w/16 − 1)) &lt;&lt; 4, so an
/// atom of 8 w-byte rows must sit 8w-aligned in the shared window (the base offset field stays 0).</item>
/// <item>A in registers: warp w holds rows 16w … 16w + 15 of A as <see cref="TensorCore"/>'s m16n8k16 A fragment (four
/// registers of two 16-bit elements).</item>
/// <item>Accumulators (D, N/2 floats a thread): thread t of the warpgroup, warp w = t / 32 % 4, lane = 4g + q; register i
/// holds row 16w + g + 8·(i / 2 % 2), column 8·(i / 4) + 2q + i % 2 — the m16n8 accumulator tiles of <see cref="TensorCore"/>,
/// one per 8 columns, warp w taking rows 16w … 16w + 15.</item>
/// </list>
/// On the CPU a product is computed at the call from shared memory as the descriptors address it (each thread its own
/// accumulators; register A exchanged within the warp; the accumulation as <see cref="TensorCoreAccumulation"/> models
/// it); the fence, commit and wait do nothing there, but a kernel needs them on the GPU: <see cref="Fence"/> after the
/// registers (accumulators, register A) and shared memory the next products read were written, <see cref="Commit"/> after a
/// batch, <see cref="Wait"/> before the accumulators are read. ptxas serialises the products of a stage when other
/// instructions define or read their registers between them (warnings C7513–C7515).
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

    /// <summary>
    /// D = A·B + (<paramref name="accumulate"/> ? D : 0) for A 64 × 16 and B 16 × N in shared memory (descriptors
    /// <paramref name="a"/>, <paramref name="b"/>), fp16 inputs, N = 2 · the accumulators' count (m64n32k16, m64n64k16,
    /// m64n80k16, m64n128k16, m64n256k16 for <see cref="Floats16"/>, <see cref="Floats32"/>, <see cref="Floats40"/>, <see cref="Floats64"/>,
    /// <see cref="Floats128"/>). B is K-major, or MN-major when <paramref name="transposeB"/> (a constant); A likewise with
    /// <paramref name="transposeA"/> (e.g. dS stored by rows of keys, read as dS for dQ = dS K). Layouts in the class remarks.
    /// </summary>
    [Intrinsic(IntrinsicOp.WarpGroupMmaF16)]
    public static TAccumulators MultiplyAddF16<TAccumulators>(ulong a, ulong b, bool accumulate, TAccumulators d, bool transposeB = false,
        bool transposeA = false) where TAccumulators : unmanaged, IWarpGroupAccumulators
    {
        MultiplyAddOnCpu(CpuContext.Current, SharedA(CpuContext.Current, a, TensorCore.MmaInputs.Float16, transposeA), b, transposeB, accumulate,
            Elements(ref d), TensorCore.MmaInputs.Float16);
        return d;
    }

    /// <summary><see cref="MultiplyAddF16{TAccumulators}(ulong, ulong, bool, TAccumulators, bool, bool)"/> with bf16 inputs.</summary>
    [Intrinsic(IntrinsicOp.WarpGroupMmaBF16)]
    public static TAccumulators MultiplyAddBF16<TAccumulators>(ulong a, ulong b, bool accumulate, TAccumulators d, bool transposeB = false,
        bool transposeA = false) where TAccumulators : unmanaged, IWarpGroupAccumulators
    {
        MultiplyAddOnCpu(CpuContext.Current, SharedA(CpuContext.Current, a, TensorCore.MmaInputs.BFloat16, transposeA), b, transposeB, accumulate,
            Elements(ref d), TensorCore.MmaInputs.BFloat16);
        return d;
    }

    /// <summary>
    /// The same with A in registers: warp w of the warpgroup holds rows 16w … 16w + 15 of A as an m16n8k16 A fragment
    /// (<see cref="TensorCore"/>'s layout), e.g. P of attention converted from the accumulators of S (fp16 inputs).
    /// </summary>
    [Intrinsic(IntrinsicOp.WarpGroupMmaRegisterAF16)]
    public static TAccumulators MultiplyAddF16<TAccumulators>(Int4 a, ulong b, bool accumulate, TAccumulators d, bool transposeB = false)
        where TAccumulators : unmanaged, IWarpGroupAccumulators
    {
        MultiplyAddOnCpu(CpuContext.Current, RegisterA(CpuContext.Current, a, TensorCore.MmaInputs.Float16), b, transposeB, accumulate, Elements(ref d), TensorCore.MmaInputs.Float16);
        return d;
    }

    /// <summary>The register-A product with bf16 inputs.</summary>
    [Intrinsic(IntrinsicOp.WarpGroupMmaRegisterABF16)]
    public static TAccumulators MultiplyAddBF16<TAccumulators>(Int4 a, ulong b, bool accumulate, TAccumulators d, bool transposeB = false)
        where TAccumulators : unmanaged, IWarpGroupAccumulators
    {
        MultiplyAddOnCpu(CpuContext.Current, RegisterA(CpuContext.Current, a, TensorCore.MmaInputs.BFloat16), b, transposeB, accumulate, Elements(ref d), TensorCore.MmaInputs.BFloat16);
        return d;
    }

    private static Span<float> Elements<TAccumulators>(ref TAccumulators d) where TAccumulators : unmanaged
        => MemoryMarshal.CreateSpan(ref Unsafe.As<TAccumulators, float>(ref d), Unsafe.SizeOf<TAccumulators>() / sizeof(float));

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

    /// <summary>The shared-window byte address of element (<paramref name="mn"/>, <paramref name="k"/>) of a 16-bit operand
    /// described by <paramref name="descriptor"/>: K-major, or MN-major when <paramref name="mnMajor"/> (the class remarks).</summary>
    internal static int ElementAddress(ulong descriptor, int mn, int k, bool mnMajor = false)
    {
        if ((descriptor >> 49 & 7) != 0) throw new NotSupportedException("A descriptor's base offset (bits 49–51) is not modelled: align the swizzle atom instead.");
        int start = (int)(descriptor & 0x3FFF) << 4, leading = (int)(descriptor >> 16 & 0x3FFF) << 4;
        int stride = (int)(descriptor >> 32 & 0x3FFF) << 4;
        var swizzle = (SharedSwizzle)(descriptor >> 62);
        if (swizzle == SharedSwizzle.None)
            return mnMajor
                // 8 (k) × 8 (mn) core matrices, each k row 16 bytes along mn: mn groups at the stride offset, k groups at the leading
                ? start + mn / 8 * stride + k / 8 * leading + k % 8 * 16 + 2 * (mn % 8)
                : start + mn / 8 * stride + k / 8 * leading + mn % 8 * 16 + 2 * (k % 8);
        int width = SharedSwizzles.RowBytes(swizzle);
        int address = mnMajor
            // w-byte rows along mn, one per k: a group of w/2 mn at the leading offset, a group of 8 k at the stride offset
            ? start + mn / (width / 2) * leading + k / 8 * stride + k % 8 * width + 2 * (mn % (width / 2))
            : start + mn / 8 * stride + mn % 8 * width + 2 * k;
        return SharedSwizzles.Apply(address, swizzle);
    }

    /// <summary>A[row][k] of a shared-memory A read through <paramref name="descriptor"/>: K-major, or MN-major when
    /// <paramref name="mnMajor"/>.</summary>
    internal static Func<int, int, float> SharedA(CpuContext context, ulong descriptor, TensorCore.MmaInputs inputs, bool mnMajor = false)
        => (row, k) => SharedElement(context, descriptor, row, k, mnMajor, inputs);

    /// <summary>A[row][k] of register fragments: each warp publishes its rows' A registers, read by row within the warp's 16.</summary>
    internal static Func<int, int, float> RegisterA(CpuContext context, Int4 a, TensorCore.MmaInputs inputs)
    {
        var all = context.WarpExchange([a.X, a.Y, a.Z, a.W]);
        return (row, k) => TensorCore.HalfAElement(all, row % 16, k, inputs);
    }

    private static unsafe float SharedElement(CpuContext context, ulong descriptor, int mn, int k, bool mnMajor, TensorCore.MmaInputs inputs)
    {
        ushort bits = *(ushort*)context.SharedPointer(ElementAddress(descriptor, mn, k, mnMajor));
        return inputs == TensorCore.MmaInputs.BFloat16 ? BFloat16.FromRawValue(bits) : (float)BitConverter.UInt16BitsToHalf(bits);
    }

    /// <summary>The calling thread's accumulators of one m64nNk16 product (N = 2 · <paramref name="d"/>.Length), in place; A's
    /// elements from <paramref name="a"/> (row 0–63, k), B's through <paramref name="b"/>.</summary>
    internal static void MultiplyAddOnCpu(CpuContext context, Func<int, int, float> a, ulong b, bool transposeB, bool accumulate,
        Span<float> d, TensorCore.MmaInputs inputs)
    {
        var index = context.ThreadIndex;
        var dim = context.GroupDim;
        long thread = index.X + dim.X * (index.Y + (long)dim.Y * index.Z);
        if (dim.Size % Threads != 0)
            throw new InvalidOperationException($"A warpgroup MMA needs whole warpgroups of {Threads} threads; the group has {dim.Size}.");
        int warp = (int)(thread / 32 % 4), lane = context.LaneIndex, g = lane / 4, q = lane % 4;
        int group = TensorCoreAccumulation.GroupBytes / 2;
        Span<double> products = stackalloc double[group];
        for (int i = 0; i < d.Length; i++)
        {
            int row = 16 * warp + g + 8 * (i / 2 % 2), column = 8 * (i / 4) + 2 * q + i % 2;
            float accumulator = accumulate ? d[i] : 0f;
            for (int k0 = 0; k0 < 16; k0 += group)
            {
                for (int k = 0; k < group; k++)
                    products[k] = (double)a(row, k0 + k) * SharedElement(context, b, column, k0 + k, transposeB, inputs);
                accumulator = TensorCoreAccumulation.Add(accumulator, products);
            }
            d[i] = accumulator;
        }
    }
}

/// <summary>The register arrays a warpgroup MMA accumulates into: <see cref="Floats16"/>, <see cref="Floats32"/>,
/// <see cref="Floats40"/>, <see cref="Floats64"/>, <see cref="Floats128"/> (N = 32, 64, 80, 128, 256).</summary>
public interface IWarpGroupAccumulators
{
    /// <summary>Element <paramref name="index"/> (a constant once the kernel's loops unroll, so the array stays in registers).</summary>
    float this[int index] { get; set; }
}
