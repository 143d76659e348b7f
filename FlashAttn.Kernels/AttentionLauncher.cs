using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Kernels;

/// <summary>
/// Host side of the attention kernels: picks the tile configuration, builds the kernel arguments and
/// launches. Arguments are assumed validated by the public API (FlashAttn.Core).
/// </summary>
public static partial class AttentionLauncher
{
    /// <summary>Threads per group of the element-wise kernels (preprocess, convert).</summary>
    private const int ElementwiseThreads = 256;

    /// <summary>CUDA's limit on a grid's y and z dimensions: batch and heads index them (the validator's bound), and the
    /// tiled kernels' tile index (longer sequences take the general kernels, whose tile index is x).</summary>
    public const int MaxGridYZ = 65535;

    /// <summary>Most groups of the element-wise kernels; they loop over the rest (grid-stride).</summary>
    private const int ElementwiseMaxGroups = 4096;

    /// <summary>
    /// Attention forward: output = softmax(scale · q kᵀ, masked) v and lse = log-sum-exp of each row.
    /// q: (b, s_q, h_q, d); k, v: (b, s_k, h_kv, d); output: (b, s_q, h_q, d) — or (b, h, s, d) each with
    /// <see cref="AttentionShape.Layout"/> = <see cref="AttentionLayout.BatchHeadSeqDim"/>, read in place through strides;
    /// lse: (b, h_q, s_q) fp32 in either layout, natural log, +∞ for a row that sees no key (its output row is 0).
    /// </summary>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> is not float, Half or BFloat16, or d is outside 1…256.</exception>
    public static void Forward<T>(Accelerator accelerator, AttentionShape shape, AttentionSettings settings,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse) where T : unmanaged
        => Forward(accelerator, shape, settings, Plain, q, k, v, output, lse);

    /// <summary>
    /// <see cref="Forward{T}(Accelerator, AttentionShape, AttentionSettings, ArrayView{T}, ArrayView{T}, ArrayView{T}, ArrayView{T}, ArrayView{float})"/>
    /// with score and mask modifiers compiled into the kernels (every element type; fp32 calls with modifiers or dropout take the
    /// general FFMA kernels, not the register-tiled ones).
    /// </summary>
    public static void Forward<T, TScore, TMask>(Accelerator accelerator, AttentionShape shape, AttentionSettings settings,
        AttentionModifiers<TScore, TMask> modifiers, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var storage = StorageChoice<T>.Instance;
        if (IsEmpty(shape)) return;
        var call = new ForwardCall<T, TScore, TMask>(accelerator, shape, settings, Params(shape, settings), SequenceGrid.Dense(shape), 1, modifiers,
            q, k, v, output, lse);
        storage.Run(ref call, Fp32MathChoice.Resolve(settings.Fp32Math, accelerator, shape.HeadDim, backward: false));
    }

    /// <summary>
    /// Attention backward by recomputation from the saved <paramref name="lse"/>. dq like q, dk/dv like k/v
    /// (for GQA/MQA summed over the query heads of each kv head). Its fp32 workspaces (<see cref="BackwardWorkspaceBytes"/>;
    /// for fp32 without GQA only D, the gradients accumulating in place)
    /// are rented from the accelerator's <see cref="Accelerator.Cache"/>, so repeated calls neither allocate nor free
    /// device memory nor wait for the device: like the forward, the call returns once its launches are enqueued. With
    /// <see cref="AttentionSettings.Deterministic"/> no atomics touch the results: bitwise reproducible.
    /// </summary>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> is not float, Half or BFloat16, or d is outside 1…256.</exception>
    public static void Backward<T>(Accelerator accelerator, AttentionShape shape, AttentionSettings settings,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv) where T : unmanaged
        => Backward(accelerator, shape, settings, Plain, q, k, v, output, dOutput, lse, dq, dk, dv);

    /// <summary>The backward of <see cref="Forward{T, TScore, TMask}"/>: the modifiers must be the forward's; the score
    /// modifier's derivative carries the gradient through it.</summary>
    public static void Backward<T, TScore, TMask>(Accelerator accelerator, AttentionShape shape, AttentionSettings settings,
        AttentionModifiers<TScore, TMask> modifiers, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput,
        ArrayView<float> lse, ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv)
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        var storage = StorageChoice<T>.Instance;
        if (IsEmpty(shape)) return;
        var call = new BackwardCall<T, TScore, TMask>(accelerator, shape, settings, Params(shape, settings), SequenceGrid.Dense(shape), modifiers,
            q, k, v, output, dOutput, lse, dq, dk, dv);
        storage.Run(ref call, Fp32MathChoice.Resolve(settings.Fp32Math, accelerator, shape.HeadDim, backward: true));
    }

    /// <summary>
    /// Checks that a block mask fits the call: ⌈s_q/64⌉ × ⌈s_k/64⌉ blocks for every batch and head it is read for. Block masks
    /// are read by the tensor-core forward and backward of dense calls; elsewhere (fp32, varlen, KV cache) the mask modifier
    /// alone decides — exact, only no tile is skipped. (The fp32 kernels skip empty tiles too, not the test on full ones.)
    /// </summary>
    private static void CheckBlockMask(BlockMask blocks, AttentionShape shape)
        => blocks.CheckFits(shape.Batch, shape.HeadsQ, shape.SeqLenQ, shape.SeqLenK);

    /// <summary>
    /// Builds the <see cref="BlockMask"/> of <paramref name="mask"/> for a dense call of <paramref name="shape"/> into
    /// <paramref name="blocks"/> (<see cref="BlockMask.Elements"/> bytes), per batch and per head or shared, and returns its
    /// view. Pass it in <see cref="AttentionModifiers{TScore, TMask}"/> with the same mask: tiles it empties are skipped.
    /// </summary>
    public static BlockMask BuildBlockMask<TMask>(Accelerator accelerator, AttentionShape shape, AttentionSettings settings, TMask mask,
        ArrayView<byte> blocks, bool perBatch, bool perHead) where TMask : struct, IMaskModifier
    {
        var blockMask = BlockMask.For(shape, blocks, perBatch, perHead);
        if (blocks.Length < BlockMask.Elements(shape, perBatch, perHead))
            throw new ArgumentException($"blocks holds {blocks.Length} bytes; the mask needs {BlockMask.Elements(shape, perBatch, perHead)}.", nameof(blocks));
        int maskHeads = perHead ? shape.HeadsQ : 1;
        accelerator.Launch(BlockMaskBuilderKernel.Build<TMask>,
            new LaunchConfig(new Dim3(blockMask.KeyBlocks, blockMask.QueryBlocks, (perBatch ? shape.Batch : 1) * maskHeads),
                new Dim3(BlockMaskBuilderKernel.Threads, 1, 1)),
            blockMask, mask, Params(shape, settings), maskHeads);
        return blockMask;
    }

    /// <summary>No modifiers: plain attention.</summary>
    private static AttentionModifiers<NoScoreModifier, NoMaskModifier> Plain => default;

    /// <summary>
    /// Bytes of device workspace <see cref="Backward{T}"/> uses, all fp32: D (b·h_q·s_q); unless the gradients are their own
    /// accumulators (fp32 without GQA, dq 16-byte aligned as allocations are; in either layout, the accumulators following
    /// the gradients' dimension order) the dQ accumulator (b·s_q·h_q·d); with GQA per-query-head dK and dV (2·b·s_k·h_q·d),
    /// which the convert pass sums (without it the kernels write dk and dv themselves). Linear in the sequence lengths.
    /// </summary>
    /// <param name="shape">The call's sizes.</param>
    /// <param name="settings">The call's options.</param>
    /// <param name="elementBytes">Bytes per element of q, k, v and the gradients (4 for fp32, 2 for fp16/bf16).</param>
    public static long BackwardWorkspaceBytes(AttentionShape shape, AttentionSettings settings, int elementBytes)
    {
        _ = settings;
        long rows = (long)shape.Batch * shape.HeadsQ * shape.SeqLenQ;
        if (GradientsAreAccumulators(shape, elementBytes)) return sizeof(float) * rows;
        long dkv = shape.HeadsQ == shape.HeadsKV ? 0 : (long)shape.Batch * shape.SeqLenK * shape.HeadsQ * shape.HeadDim;
        return sizeof(float) * (rows + rows * shape.HeadDim + 2 * dkv);
    }

    /// <summary>True when dq, dk and dv can take the fp32 accumulators' place: fp32 elements (the only 4-byte type) and h_q = h_kv.</summary>
    private static bool GradientsAreAccumulators(AttentionShape shape, int elementBytes)
        => elementBytes == sizeof(float) && shape.HeadsQ == shape.HeadsKV;

    /// <summary>
    /// True when the register-tiled kernels take the call: a head dim <see cref="ForwardRegisterTile.Supports"/> (the
    /// backward's tile handles the same ones), every operand 16-byte aligned
    /// (cp.async chunks), and the tile count within the grid's z limit (longer sequences take the general kernels).
    /// </summary>
    private static bool TakesRegisterTiles<T>(int headDim, int tiles, params ReadOnlySpan<ArrayView<T>> operands) where T : unmanaged
    {
        if (!ForwardRegisterTile.Supports(headDim) || tiles > MaxGridYZ) return false;
        foreach (var operand in operands)
            if (!Aligned16(operand)) return false;
        return true;
    }

    /// <summary>16-byte chunks of 8 elements: d a multiple of 8 and every operand 16-byte aligned (else element-wise staging).
    /// Every row starts a whole number of rows (d elements) from its tensor's base in either <see cref="AttentionLayout"/>,
    /// so aligned bases make every row aligned (so for <see cref="TakesRegisterTiles"/>, whose head dims are multiples of 4).</summary>
    /// <summary>
    /// Whether plain dense fp16/bf16 forwards take the Hopper kernel (<see cref="FlashForwardWarpGroupKernel"/>): null (the
    /// default) where the device is sm_90; true also on the CPU, which runs it through its models of TMA, mbarriers and
    /// wgmma (slowly: for tests); false never (to compare it with the FA2 kernel). The process starts with
    /// FLASHATTN_WARPGROUP_FORWARD's value (on, off; anything else: the default), for A/B runs of the benchmarks.
    /// </summary>
    internal static bool? WarpGroupForward { get; set; } = Environment.GetEnvironmentVariable("FLASHATTN_WARPGROUP_FORWARD") switch
    {
        "on" => true,
        "off" => false,
        _ => null,
    };

    /// <summary>
    /// Whether the Hopper forward takes FA3's tiles (<see cref="WarpGroupTile.For"/>: three consumers at d = 64, two taking
    /// turns at d = 128, and d = 256) instead of the measured ones (two consumers without turns, d = 64 and 128). Off until a
    /// GPU has run them: they pass every test on the CPU's models, but the device time ran out before they met a GPU
    /// (2026-12-08). The process starts with FLASHATTN_WARPGROUP_FA3's value (on: true).
    /// </summary>
    internal static bool WarpGroupFa3Tiles { get; set; } = Environment.GetEnvironmentVariable("FLASHATTN_WARPGROUP_FA3") == "on";

    /// <summary>True when a plain dense forward of <paramref name="headDim"/> over these tensors takes the Hopper kernel: the
    /// device (<see cref="WarpGroupForward"/>), a head dim its tiles cover whose tile fits its shared memory, every tensor 16-byte
    /// aligned (the tensor maps' rule).</summary>
    private static bool TakesWarpGroupForward<T>(Accelerator accelerator, int headDim, params ReadOnlySpan<ArrayView<T>> operands) where T : unmanaged
        => (WarpGroupForward ?? accelerator.Info.ComputeCapability == 90) && accelerator.Info.HasWarpGroupMma
            && WarpGroupTile.Covers(headDim, WarpGroupFa3Tiles) && WarpGroupTile.For(headDim, WarpGroupFa3Tiles).SharedBytes <= accelerator.Info.MaxSharedMemoryPerGroup
            && Chunked(headDim, operands);

    private static bool Chunked<T>(int headDim, params ReadOnlySpan<ArrayView<T>> operands) where T : unmanaged
    {
        if (headDim % TensorCoreTile.ChunkedHeadDimMultiple != 0) return false;
        foreach (var operand in operands)
            if (!Aligned16(operand)) return false;
        return true;
    }

    /// <summary>16-byte chunks (cp.async) need 16-byte aligned bases; device allocations are, offset views may not be.</summary>
    private static unsafe bool Aligned16<T>(ArrayView<T> view) where T : unmanaged => (nint)view.Pointer % 16 == 0;

    private static unsafe int SizeOf<T>() where T : unmanaged => sizeof(T);

    private static bool IsEmpty(AttentionShape shape)
        => shape.Batch <= 0 || shape.SeqLenQ <= 0 || shape.SeqLenK <= 0 || shape.HeadsQ <= 0 || shape.HeadsKV <= 0 || shape.HeadDim <= 0;

    private static AttentionParams Params(AttentionShape shape, AttentionSettings settings)
    {
        if (shape.HeadsQ % shape.HeadsKV != 0)
            throw new ArgumentException($"h_q = {shape.HeadsQ} is not a multiple of h_kv = {shape.HeadsKV}.", nameof(shape));
        if (!Enum.IsDefined(shape.Layout))
            throw new ArgumentException($"shape.Layout must be an {nameof(AttentionLayout)} value; actual {(int)shape.Layout}.", nameof(shape));
        return new AttentionParams
        {
            Batch = shape.Batch,
            SeqLenQ = shape.SeqLenQ,
            SeqLenK = shape.SeqLenK,
            HeadsQ = shape.HeadsQ,
            HeadsKV = shape.HeadsKV,
            HeadDim = shape.HeadDim,
            QueryLayout = shape.Layout,
            KeyLayout = shape.Layout,
            CausalOffset = settings.CausalBottomRight ? shape.SeqLenK - shape.SeqLenQ : 0,
            CausalBottomRight = settings.CausalBottomRight,
            WindowLeft = settings.WindowLeft,
            WindowRight = settings.WindowRight,
            DropoutThreshold = settings.Dropout.Enabled ? settings.Dropout.Threshold8 : 0,
            DropoutScale = settings.Dropout.Enabled ? settings.Dropout.KeptScale : 1f,
            DropoutSeedLow = settings.Dropout.SeedLow,
            DropoutSeedHigh = settings.Dropout.SeedHigh,
            DropoutOffset = (uint)settings.Dropout.Offset,
            Scale = settings.Scale,
            ScaleLog2 = settings.Scale * SoftmaxConstants.Log2E,
        };
    }

    private static SpecializedValue<int> Specialize(int value) => SpecializedValue.New(value);

    private static int CeilDiv(int value, int divisor) => (value + divisor - 1) / divisor;

    private static LaunchConfig Elementwise(long elements)
        => new(new Dim3((int)Math.Clamp((elements + ElementwiseThreads - 1) / ElementwiseThreads, 1, ElementwiseMaxGroups), 1, 1),
            new Dim3(ElementwiseThreads, 1, 1));
}
