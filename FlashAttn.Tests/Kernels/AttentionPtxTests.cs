using System.Reflection;
using System.Text.RegularExpressions;
using FlashAttn.Compute;
using FlashAttn.Compute.Backends.Ptx;
using FlashAttn.Compute.Runtime;
using FlashAttn.Kernels;
using FlashAttn.Tests.Compute.Ptx;

namespace FlashAttn.Tests.Kernels;

/// <summary>
/// The attention kernels compiled all the way to PTX in CI (no GPU here): the structure that performance
/// depends on. Register arrays must not fall back to local memory; the register-tiled forward must read its
/// shared tiles with 16-byte loads and stage fp32 tiles with cp.async.
/// </summary>
[TestFixture]
public sealed class AttentionPtxTests
{
    private static string CompileForward(Type element, Type storage, int headDimPadded, bool causal)
    {
        var method = typeof(FlashForwardTiledKernel).GetMethod(nameof(FlashForwardTiledKernel.Forward), BindingFlags.Public | BindingFlags.Static)!
            .MakeGenericMethod(element, storage);
        var specializations = new object?[method.GetParameters().Length];
        specializations[^2] = SpecializedValue.New(headDimPadded);
        specializations[^1] = SpecializedValue.New(causal);
        var compiled = KernelCompiler.Instance.Compile(method, specializations, PtxTarget.Default);
        PtxChecker.Dump(new PtxModule(compiled.Ptx, compiled.EntryName, 0), $"forward_tiled_{element.Name}_{headDimPadded}_{(causal ? "causal" : "full")}");
        return compiled.Ptx;
    }

    /// <summary>The Hopper forward: sm_90a, its three roles' register counts set, Q/K/V by TMA from three 128-byte tensor-map
    /// parameters, both products on wgmma (P from registers), nothing in local memory.</summary>
    [TestCase(typeof(Half), typeof(Float16Storage), 128, false, false)]
    [TestCase(typeof(Half), typeof(Float16Storage), 64, true, false)]
    [TestCase(typeof(Half), typeof(Float16Storage), 64, true, true)]
    [TestCase(typeof(BFloat16), typeof(BFloat16Storage), 128, true, true)]
    [TestCase(typeof(Half), typeof(Float16Storage), 256, true, true)]
    public void WarpGroupForwardRunsOnTmaAndWgmma(Type element, Type storage, int headDim, bool causal, bool fa3Tiles)
    {
        bool three = headDim == 64 && fa3Tiles;
        var method = typeof(FlashForwardWarpGroupKernel).GetMethod(three ? nameof(FlashForwardWarpGroupKernel.ForwardThreeConsumers)
                : nameof(FlashForwardWarpGroupKernel.Forward), BindingFlags.Public | BindingFlags.Static)!
            .MakeGenericMethod(element, storage, headDim == 256 ? typeof(Floats40) : typeof(Floats64),
                headDim switch { 64 => typeof(Floats32), 128 => typeof(Floats64), _ => typeof(Floats128) });
        var parameters = method.GetParameters();
        var specializations = new object?[parameters.Length];
        specializations[Array.FindIndex(parameters, p => p.Name == "headDim")] = SpecializedValue.New(headDim);
        specializations[Array.FindIndex(parameters, p => p.Name == "causal")] = SpecializedValue.New(causal);
        if (Array.FindIndex(parameters, p => p.Name == "pingPong") is >= 0 and var turns) specializations[turns] = SpecializedValue.New(fa3Tiles);
        var compiled = KernelCompiler.Instance.Compile(method, specializations, PtxTarget.Default);
        PtxChecker.Dump(new PtxModule(compiled.Ptx, compiled.EntryName, 0), $"forward_warpgroup_{element.Name}_{headDim}_{(causal ? "causal" : "full")}{(fa3Tiles ? "_fa3" : "")}");
        string ptx = compiled.Ptx, type = element == typeof(Half) ? "f16" : "bf16";
        Assert.Multiple(() =>
        {
            Assert.That(ptx, Does.Contain(".target sm_90a"));
            Assert.That(ptx, Does.Not.Contain(".local"), "register arrays left in local memory");
            Assert.That(Regex.Matches(ptx, @"\.param \.align 64 \.b8 \w+\[128\]").Count, Is.EqualTo(3), "q, k and v as tensor maps");
            Assert.That(ptx, Does.Contain("cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"));
            Assert.That(ptx, Does.Contain($"wgmma.mma_async.sync.aligned.m64n{(headDim == 256 ? 80 : 128)}k16.f32.{type}.{type}"), "S = Q Kᵀ");
            Assert.That(ptx, Does.Match($@"wgmma\.mma_async\.sync\.aligned\.m64n{headDim}k16\.f32\.{type}\.{type} \{{[^}}]+\}}, \{{"), "O += P V with P in registers");
            Assert.That(ptx, Does.Contain("setmaxnreg.dec.sync.aligned.u32 24").And.Contain($"setmaxnreg.inc.sync.aligned.u32 {(three ? 160 : 240)}"));
            Assert.That(ptx, Does.Contain($".maxntid {(three ? 512 : 384)}, 1, 1"));
        });
    }

    [TestCase(128, false)]
    [TestCase(128, true)]
    [TestCase(64, false)]
    public void TiledForwardFp32KeepsRegistersAndStreamsTiles(int headDimPadded, bool causal)
    {
        string ptx = CompileForward(typeof(float), typeof(Float32Storage), headDimPadded, causal);
        Assert.Multiple(() =>
        {
            Assert.That(ptx, Does.Not.Contain(".local"), "register arrays left in local memory");
            Assert.That(ptx, Does.Contain("cp.async.cg.shared.global"), "fp32 tiles are staged asynchronously");
            Assert.That(ptx, Does.Contain("cp.async.wait_all"));
            Assert.That(ptx, Does.Contain("ld.shared.v4.f32"), "fragments are 16-byte shared loads");
            Assert.That(ptx, Does.Not.Match(@"\bld\.f32|\bld\.v4\.f32"), "no generic-space loads");
            Assert.That(ptx, Does.Contain(".maxntid 128, 1, 1"));
        });
    }

    [Test]
    public void TiledForwardFp16WidensSynchronously()
    {
        string ptx = CompileForward(typeof(Half), typeof(Float16Storage), 128, false);
        Assert.Multiple(() =>
        {
            Assert.That(ptx, Does.Not.Contain(".local"));
            Assert.That(ptx, Does.Not.Contain("cp.async.cg"));
            Assert.That(ptx, Does.Contain("ld.shared.v4.f32"));
        });
    }

    [TestCase(128, false, true)]
    [TestCase(128, true, false)]
    [TestCase(64, true, true)]
    public void TiledBackwardFp32KeepsRegistersAndStreamsTiles(int headDimPadded, bool causal, bool accumulateDq)
    {
        var method = typeof(FlashBackwardTiledKernel).GetMethod(nameof(FlashBackwardTiledKernel.Backward), BindingFlags.Public | BindingFlags.Static)!
            .MakeGenericMethod(typeof(float), typeof(Float32Storage));
        var specializations = new object?[method.GetParameters().Length];
        specializations[^3] = SpecializedValue.New(headDimPadded);
        specializations[^2] = SpecializedValue.New(causal);
        specializations[^1] = SpecializedValue.New(accumulateDq);
        var compiled = KernelCompiler.Instance.Compile(method, specializations, PtxTarget.Default);
        PtxChecker.Dump(new PtxModule(compiled.Ptx, compiled.EntryName, 0),
            $"backward_tiled_Single_{headDimPadded}_{(causal ? "causal" : "full")}_{(accumulateDq ? "dq" : "nodq")}");
        Assert.Multiple(() =>
        {
            Assert.That(compiled.Ptx, Does.Not.Contain(".local"), "register arrays left in local memory");
            Assert.That(compiled.Ptx, Does.Contain("cp.async.cg.shared.global"));
            Assert.That(compiled.Ptx, Does.Contain("ld.shared.v4.f32"));
            Assert.That(compiled.Ptx, accumulateDq ? Does.Contain("red.global.add.v4.f32") : Does.Not.Contain("red.global.add"));
            Assert.That(compiled.Ptx, Does.Not.Contain("atom.global"), "dQ goes through vector reductions");
            Assert.That(compiled.Ptx, Does.Contain(".maxntid 256, 1, 1"));
        });
    }

    /// <summary>Compiles a kernel with its trailing SpecializedValue parameters set to <paramref name="specialized"/>.</summary>
    internal static string Compile(Type kernel, string name, Type element, Type storage, string dumpName, params object[] specialized)
        => Compile(kernel, name, [element, storage, typeof(NoScoreModifier), typeof(NoMaskModifier)], dumpName, specialized);

    /// <summary><see cref="Compile(Type, string, Type, Type, string, object[])"/> with the generic arguments given (element, storage,
    /// then the score and mask modifiers' types for kernels that take them).</summary>
    internal static string Compile(Type kernel, string name, Type[] generics, string dumpName, params object[] specialized)
    {
        var (_, compiled) = CompileEntry(kernel, name, generics, specialized);
        PtxChecker.Dump(new PtxModule(compiled.Ptx, compiled.EntryName, 0), dumpName);
        return compiled.Ptx;
    }

    /// <summary>The kernel method made generic with <paramref name="generics"/> and compiled with its trailing SpecializedValue
    /// parameters set to <paramref name="specialized"/>.</summary>
    private static (MethodInfo Method, CompiledKernel Compiled) CompileEntry(Type kernel, string name, Type[] generics, object[] specialized)
    {
        var definition = kernel.GetMethod(name, BindingFlags.Public | BindingFlags.Static)!;
        var method = definition.MakeGenericMethod(generics[..definition.GetGenericArguments().Length]);
        var specializations = new object?[method.GetParameters().Length];
        for (int k = 0; k < specialized.Length; k++) specializations[^(specialized.Length - k)] = specialized[k];
        return (method, KernelCompiler.Instance.Compile(method, specializations, PtxTarget.Default));
    }

    [TestCase(false, 0)]
    [TestCase(true, 0)]
    [TestCase(true, 7)]
    public void GeneralFp32KernelsKeepRegistersWithAndWithoutModifiers(bool causal, int modifierFlags)
    {
        // flags 7: a softcap, a user mask modifier and dropout compiled in; flags 0: plain attention, the modifier code folded away
        var tile = AttentionTileConfig.ForForward(64, sizeof(float));
        Type[] generics = modifierFlags == 0 ? [typeof(float), typeof(Float32Storage), typeof(NoScoreModifier), typeof(NoMaskModifier)]
            : [typeof(float), typeof(Float32Storage), typeof(Softcap), typeof(DocumentMask)];
        object[] Tail(params object[] last) => [SpecializedValue.New(SequenceKind.Dense), SpecializedValue.New(tile.BlockRows),
            SpecializedValue.New(tile.BlockCols), SpecializedValue.New(tile.Threads), SpecializedValue.New(tile.ThreadsPerRow),
            SpecializedValue.New(tile.HeadDimPadded), SpecializedValue.New(causal), .. last, SpecializedValue.New(modifierFlags)];
        string suffix = $"{(causal ? "causal" : "full")}_flags{modifierFlags}";
        string[] ptx =
        [
            Compile(typeof(FlashForwardKernel), nameof(FlashForwardKernel.Forward), generics, $"forward_general_Single_{suffix}", Tail()),
            Compile(typeof(FlashBackwardKernel), nameof(FlashBackwardKernel.Backward), generics, $"backward_general_Single_{suffix}",
                Tail(SpecializedValue.New(true))),
            Compile(typeof(FlashBackwardDqKernel), nameof(FlashBackwardDqKernel.BackwardDq), generics, $"dq_general_Single_{suffix}", Tail()),
        ];
        Assert.Multiple(() =>
        {
            foreach (string kernel in ptx)
            {
                Assert.That(kernel, Does.Not.Contain(".local"), "register arrays left in local memory");
                // Philox's rounds (xor) and the softcap's tanh (copysign) appear only when compiled in
                Assert.That(kernel, modifierFlags == 0 ? Does.Not.Contain("xor.b32").And.Not.Contain("copysign")
                    : Does.Contain("xor.b32").And.Contain("copysign"));
            }
        });
    }

    [Test]
    public unsafe void TensorCoreForwardArgumentsMarshalIntoItsParameters()
    {
        // every field of the real kernel's arguments (views with 64-bit lengths, the block mask's identity) has a slot
        // of its size: what a CUDA launch packs, checked without a GPU
        object[] specialized = [SpecializedValue.New(128), SpecializedValue.New(ForwardWarps(128, SequenceKind.Dense)), SpecializedValue.New(true), SpecializedValue.New(true),
            SpecializedValue.New(SequenceKind.Dense), SpecializedValue.New(1), SpecializedValue.New(1), SpecializedValue.New(0)];
        var (method, compiled) = CompileEntry(typeof(FlashForwardTensorCoreKernel), nameof(FlashForwardTensorCoreKernel.Forward),
            [typeof(Half), typeof(Float16Storage), typeof(NoScoreModifier), typeof(NoMaskModifier)], specialized);
        int first = method.GetParameters().Length - specialized.Length;
        var marshaller = new FlashAttn.Compute.Runtime.Cuda.KernelArgumentMarshaller(method, compiled.Slots);

        var blocks = new BlockMask(new ArrayView<byte>((byte*)0x1000, 64), 0, 0, 8, 8) { Identity = 0x0123_4567_89AB_CDEF };
        var arguments = method.GetParameters().Select((parameter, i) => i >= first
            ? specialized[i - first]
            : parameter.ParameterType == typeof(AttentionModifiers<NoScoreModifier, NoMaskModifier>)
                ? new AttentionModifiers<NoScoreModifier, NoMaskModifier>(default, default, blocks)
                : Activator.CreateInstance(parameter.ParameterType)!).ToArray();
        var buffer = new byte[marshaller.BufferSize];
        marshaller.Pack(arguments, buffer);

        int identity = compiled.Slots.Select((slot, i) => (slot, i)).Single(x => x.slot.FieldPath.Count > 0 && x.slot.FieldPath[^1].Name.Contains("Identity")).i;
        Assert.Multiple(() =>
        {
            Assert.That(compiled.Slots, Has.Count.EqualTo(System.Text.RegularExpressions.Regex.Matches(compiled.Ptx, @"\.param \.").Count));
            Assert.That(BitConverter.ToInt64(buffer, marshaller.Offsets[identity]), Is.EqualTo(0x0123_4567_89AB_CDEF));
        });
    }

    [TestCase(typeof(Half), typeof(Float16Storage), 128, false, true, SequenceKind.Dense, 1, 1)]
    [TestCase(typeof(BFloat16), typeof(BFloat16Storage), 128, true, true, SequenceKind.Dense, 1, 1)]
    [TestCase(typeof(Half), typeof(Float16Storage), 64, true, true, SequenceKind.Dense, 1, 1)]
    [TestCase(typeof(Half), typeof(Float16Storage), 256, false, true, SequenceKind.Dense, 1, 1)]
    [TestCase(typeof(Half), typeof(Float16Storage), 96, false, true, SequenceKind.Dense, 1, 1)]
    [TestCase(typeof(Half), typeof(Float16Storage), 64, false, false, SequenceKind.Dense, 1, 1)]
    [TestCase(typeof(Half), typeof(Float16Storage), 128, true, true, SequenceKind.Varlen, 1, 1)]
    [TestCase(typeof(Half), typeof(Float16Storage), 128, true, true, SequenceKind.KvCache, 4, 8)]
    [TestCase(typeof(BFloat16), typeof(BFloat16Storage), 128, false, true, SequenceKind.PagedKvCache, 4, 8)]
    public void TensorCoreForwardKeepsFragmentsInRegisters(Type element, Type storage, int headDimPadded, bool causal, bool chunked,
        int sequenceKind, int packedHeads, int splits)
    {
        string ptx = Compile(typeof(FlashForwardTensorCoreKernel), nameof(FlashForwardTensorCoreKernel.Forward), element, storage,
            $"forward_tc_{element.Name}_{headDimPadded}_{(causal ? "causal" : "full")}_{(chunked ? "chunked" : "elements")}" +
            (sequenceKind == SequenceKind.Dense ? "" : $"_kind{sequenceKind}_g{packedHeads}_s{splits}"),
            SpecializedValue.New(headDimPadded), SpecializedValue.New(ForwardWarps(headDimPadded, sequenceKind)), SpecializedValue.New(causal),
            SpecializedValue.New(chunked), SpecializedValue.New(sequenceKind), SpecializedValue.New(packedHeads), SpecializedValue.New(splits), SpecializedValue.New(0));
        string type = element == typeof(Half) ? "f16" : "bf16";
        Assert.Multiple(() =>
        {
            Assert.That(ptx, Does.Not.Contain(".local"), "register arrays left in local memory");
            Assert.That(ptx, Does.Contain($"mma.sync.aligned.m16n8k16.row.col.f32.{type}.{type}.f32"));
            Assert.That(ptx, Does.Contain("ldmatrix.sync.aligned.m8n8.x4.shared.b16"), "Q and K fragments");
            Assert.That(ptx, Does.Contain("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16"), "V fragments");
            Assert.That(ptx, Does.Contain($"cvt.rn.{type}x2.f32"), "P packed in registers");
            Assert.That(ptx, chunked ? Does.Contain("cp.async.cg.shared.global") : Does.Not.Contain("cp.async.cg"));
            Assert.That(ptx, Does.Contain(".maxntid 256, 1, 1"), "launch bounds of the large-head tile's 8 warps");
            // the copies unroll with one division of the thread index per kernel, also where the threads do not divide
            // into whole rows (d' = 96: 12 chunks a row), not one per chunk in a rolled loop
            if (chunked && sequenceKind == SequenceKind.Dense)
                Assert.That(Regex.Matches(ptx, @"div\.s32 %r\d+, %r\d+, \d+;").Count, Is.LessThanOrEqualTo(1), "divisions by the chunks per row");
            // whole K/V tiles by plain copies, the zero-filling form kept for ragged ones (TensorCoreTile.ForwardPlainCopiesOfWholeTiles)
            if (chunked && sequenceKind == SequenceKind.Dense)
                Assert.That(Regex.IsMatch(ptx, @"cp\.async\.cg\.shared\.global\.L2::128B \[[^\]]+\], \[[^\]]+\], 16;") &&
                    Regex.IsMatch(ptx, @"cp\.async\.cg\.shared\.global\.L2::128B \[[^\]]+\], \[[^\]]+\], 16, %r\d+;"), Is.True,
                    "plain copies for whole tiles beside the zero-filling ones");
            // the next K/V block's copies: after the softmax's exponentials above d' = 64 (TensorCoreTile.ForwardCopiesBeforePv),
            // before them up to 64, where a block is too short to hide a copy issued that late
            if (chunked)
                Assert.That(ptx.IndexOf("cp.async.cg.shared.global", ptx.IndexOf("ex2.approx", StringComparison.Ordinal), StringComparison.Ordinal) >= 0,
                    Is.EqualTo(headDimPadded > 64), "a K/V copy after the first exponential");
        });
    }

    /// <summary>Dropout on the tensor cores: register arrays stay in registers, and one Philox call serves a group of entries
    /// (<see cref="Dropout"/>): the forward's lane makes one call per (row tile, four key tiles), the backward's two per
    /// (query tile pair, key tile pair). Each call's 10 rounds load the multiplier 0xD2511F53 (3528531795) at most once
    /// each. The backward's loop over the scores is compiled twice (blocks that cross a causal/window edge and blocks
    /// inside), so its PTX holds two copies.</summary>
    [TestCase(64)]
    [TestCase(128)]
    public void TensorCoreDropoutKeepsRegistersAndCallsPhiloxOncePerGroup(int headDimPadded)
    {
        var forwardTile = new TensorCoreTile(headDimPadded, 4, false, 2);
        var backwardTile = TensorCoreTile.ForBackward(headDimPadded);
        string forward = Compile(typeof(FlashForwardTensorCoreKernel), nameof(FlashForwardTensorCoreKernel.Forward), typeof(Half), typeof(Float16Storage),
            $"forward_tc_Half_{headDimPadded}_causal_dropout", SpecializedValue.New(headDimPadded), SpecializedValue.New(forwardTile.Warps), SpecializedValue.New(true), SpecializedValue.New(true),
            SpecializedValue.New(SequenceKind.Dense), SpecializedValue.New(1), SpecializedValue.New(1), SpecializedValue.New(AttentionModifiers<NoScoreModifier, NoMaskModifier>.DropoutFlag));
        string backward = Compile(typeof(FlashBackwardTensorCoreKernel), nameof(FlashBackwardTensorCoreKernel.Backward), typeof(Half), typeof(Float16Storage),
            $"backward_tc_Half_{headDimPadded}_causal_dropout", SpecializedValue.New(headDimPadded), SpecializedValue.New(backwardTile.Warps),
            SpecializedValue.New(true), SpecializedValue.New(true), SpecializedValue.New(true), SpecializedValue.New(SequenceKind.Dense),
            SpecializedValue.New(AttentionModifiers<NoScoreModifier, NoMaskModifier>.DropoutFlag), SpecializedValue.New(true),
            SpecializedValue.New(backwardTile.StagesDq(AttentionTileConfig.MaxSharedBytes, hasBulkCopies: true, chunked: true, accumulatesDq: true)));
        int forwardCalls = forwardTile.RowTilesPerWarp * forwardTile.BlockCols / 32;
        int backwardCalls = 2 * 2 * ((backwardTile.ScoreWarpKeys + 31) / 32) * (backwardTile.ScoreWarpRows / 16);
        Assert.Multiple(() =>
        {
            Assert.That(forward, Does.Not.Contain(".local"), "forward: register arrays left in local memory");
            Assert.That(backward, Does.Not.Contain(".local"), "backward: register arrays left in local memory");
            Assert.That(Rounds(forward), Is.InRange(1, 10 * forwardCalls), "forward: Philox rounds");
            Assert.That(Rounds(backward), Is.InRange(1, 10 * backwardCalls), "backward: Philox rounds");
        });
        static int Rounds(string ptx) => ptx.Split("3528531795").Length - 1;
    }

    [TestCase(typeof(Half), typeof(Float16Storage), 128, SequenceKind.KvCache, 4, 1)]
    [TestCase(typeof(BFloat16), typeof(BFloat16Storage), 128, SequenceKind.PagedKvCache, 4, 8)]
    [TestCase(typeof(Half), typeof(Float16Storage), 256, SequenceKind.PagedKvCache, 8, 4)]
    public void TensorCoreDecodeKeepsFragmentsInRegisters(Type element, Type storage, int headDimPadded, int sequenceKind, int packedHeads, int splits)
    {
        string ptx = Compile(typeof(FlashDecodeTensorCoreKernel), nameof(FlashDecodeTensorCoreKernel.Decode), element, storage,
            $"decode_tc_{element.Name}_{headDimPadded}_kind{sequenceKind}_g{packedHeads}_s{splits}",
            SpecializedValue.New(headDimPadded), SpecializedValue.New(true), SpecializedValue.New(true),
            SpecializedValue.New(sequenceKind), SpecializedValue.New(packedHeads), SpecializedValue.New(splits), SpecializedValue.New(0));
        string type = element == typeof(Half) ? "f16" : "bf16";
        Assert.Multiple(() =>
        {
            Assert.That(ptx, Does.Not.Contain(".local"), "register arrays left in local memory");
            Assert.That(ptx, Does.Contain($"mma.sync.aligned.m16n8k16.row.col.f32.{type}.{type}.f32"));
            Assert.That(ptx, Does.Contain("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16"), "V fragments");
            Assert.That(ptx, Does.Contain("cp.async.cg.shared.global"), "the cache streams through cp.async");
            Assert.That(ptx, Does.Contain(".maxntid 128, 1, 1"));
        });
    }

    [TestCase(typeof(Half), typeof(Float16Storage), 128, false, true, true, true)]
    [TestCase(typeof(Half), typeof(Float16Storage), 128, false, true, true, false)]
    [TestCase(typeof(Half), typeof(Float16Storage), 128, true, true, true, false)]
    [TestCase(typeof(BFloat16), typeof(BFloat16Storage), 64, true, true, true, false)]
    [TestCase(typeof(Half), typeof(Float16Storage), 256, true, true, false, false)]
    [TestCase(typeof(Half), typeof(Float16Storage), 96, false, true, true, false)]
    [TestCase(typeof(Half), typeof(Float16Storage), 64, false, false, true, false)]
    public void TensorCoreBackwardKeepsFragmentsInRegisters(Type element, Type storage, int headDimPadded, bool causal, bool chunked, bool accumulateDq,
        bool dqStaged)
    {
        string ptx = Compile(typeof(FlashBackwardTensorCoreKernel), nameof(FlashBackwardTensorCoreKernel.Backward), element, storage,
            $"backward_tc_{element.Name}_{headDimPadded}_{(causal ? "causal" : "full")}_{(chunked ? "chunked" : "elements")}_{(accumulateDq ? "dq" : "nodq")}"
            + (dqStaged ? "_staged" : ""),
            SpecializedValue.New(headDimPadded), SpecializedValue.New(TensorCoreTile.ForBackward(headDimPadded).Warps), SpecializedValue.New(causal),
            SpecializedValue.New(chunked), SpecializedValue.New(accumulateDq), SpecializedValue.New(SequenceKind.Dense), SpecializedValue.New(0), SpecializedValue.New(true),
            SpecializedValue.New(dqStaged));
        string type = element == typeof(Half) ? "f16" : "bf16";
        Assert.Multiple(() =>
        {
            Assert.That(ptx, Does.Not.Contain(".local"), "register arrays left in local memory");
            Assert.That(ptx, Does.Contain($"mma.sync.aligned.m16n8k16.row.col.f32.{type}.{type}.f32"));
            Assert.That(ptx, Does.Contain("ldmatrix.sync.aligned.m8n8.x4.shared.b16"));
            Assert.That(ptx, Does.Contain("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16"));
            Assert.That(ptx, !accumulateDq || dqStaged ? Does.Not.Contain("atom.global").And.Not.Contain("red.global.add")
                : chunked ? Does.Contain("red.global.add.v2.f32") : Does.Contain("atom.global.add.f32"), "dQ by two-float reductions when d % 8 == 0");
            // staged (TensorCoreTile.StagesDq): written to shared memory, fenced for the copy engine, one bulk reduction per row
            Assert.That(ptx, dqStaged ? Does.Contain("cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32").And.Contain("fence.proxy.async.shared::cta")
                    .And.Contain("cp.async.bulk.wait_group.read 0").And.Contain("cp.async.bulk.wait_group 0").And.Contain("st.shared.v2.f32")
                : Does.Not.Contain("cp.reduce.async.bulk"), "dQ through the stage and bulk reductions");
            Assert.That(ptx, headDimPadded <= 96 ? Does.Contain("stmatrix.sync.aligned.m8n8.x4.shared.b16") : Does.Not.Contain("stmatrix"),
                "Pᵀ and dSᵀ by stmatrix up to d' = 96 (TensorCoreTile.BackwardStoresScoresByMatrix)");
            // the Q/dO stages keep the one copy path, zero-fill operand included (plain copies of whole tiles measured slower)
            if (chunked)
                Assert.That(Regex.IsMatch(ptx, @"cp\.async\.cg\.shared\.global\.L2::128B \[[^\]]+\], \[[^\]]+\], 16;"), Is.False,
                    "no plain copies in the backward (TensorCoreTile.ForwardPlainCopiesOfWholeTiles)");
            Assert.That(ptx, Does.Contain(".maxntid 256, 1, 1"));
        });
    }

    /// <summary>fp32 on the tensor cores (3×TF32): every family keeps its split operands in registers, multiplies with the
    /// tf32 mma, splits on the integer pipe (no cvt.rna: a quarter-rate conversion), and reads its fp32 tiles with plain
    /// 32-bit shared loads (no ldmatrix).</summary>
    [TestCase("forward", 64, true)]
    [TestCase("forward", 128, false)]
    [TestCase("forward", 256, true)]
    [TestCase("backward", 64, true)]
    [TestCase("backward", 128, false)]
    [TestCase("backward", 256, true)]
    [TestCase("decode", 128, true)]
    public void SplitTf32KernelsKeepFragmentsInRegisters(string family, int headDimPadded, bool causal)
    {
        var dense = SpecializedValue.New(SequenceKind.Dense);
        string name = $"{family}_tc_Tf32Split_{headDimPadded}_{(causal ? "causal" : "full")}";
        string ptx = family switch
        {
            "forward" => Compile(typeof(FlashForwardTensorCoreKernel), nameof(FlashForwardTensorCoreKernel.Forward), typeof(float), typeof(Tf32SplitStorage), name,
                SpecializedValue.New(headDimPadded), SpecializedValue.New(ForwardWarps(headDimPadded, SequenceKind.Dense, sizeof(float))), SpecializedValue.New(causal), SpecializedValue.New(true), dense, SpecializedValue.New(1),
                SpecializedValue.New(1), SpecializedValue.New(0)),
            "backward" => Compile(typeof(FlashBackwardTensorCoreKernel), nameof(FlashBackwardTensorCoreKernel.Backward), typeof(float), typeof(Tf32SplitStorage), name,
                SpecializedValue.New(headDimPadded), SpecializedValue.New(TensorCoreTile.ForBackward(headDimPadded, sizeof(float)).Warps), SpecializedValue.New(causal),
                SpecializedValue.New(true), SpecializedValue.New(true), dense, SpecializedValue.New(0), SpecializedValue.New(true), SpecializedValue.New(false)),
            _ => Compile(typeof(FlashDecodeTensorCoreKernel), nameof(FlashDecodeTensorCoreKernel.Decode), typeof(float), typeof(Tf32SplitStorage), name,
                SpecializedValue.New(headDimPadded), SpecializedValue.New(causal), SpecializedValue.New(true), SpecializedValue.New(SequenceKind.KvCache),
                SpecializedValue.New(4), SpecializedValue.New(2), SpecializedValue.New(0)),
        };
        Assert.Multiple(() =>
        {
            Assert.That(ptx, Does.Not.Contain(".local"), "register arrays left in local memory");
            Assert.That(ptx, Does.Contain("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32"));
            Assert.That(ptx, Does.Not.Contain("cvt.rna"), "operands split by integer adds and masks");
            Assert.That(ptx, Does.Not.Contain("ldmatrix").And.Not.Contain("m16n8k16"));
            Assert.That(ptx, Does.Contain("ld.shared.f32"), "fragments read by 32-bit shared loads");
            Assert.That(ptx, Does.Contain("cp.async.cg.shared.global"));
            if (family == "forward" && headDimPadded == 128)
            {
                // 8 warps: K and V split once per block into shared (hi, lo) pairs, read by 64-bit loads (Tf32SplitTiles)
                Assert.That(ptx, Does.Contain("ld.shared.v2.u32"), "split K/V pairs read by 64-bit loads");
                Assert.That(ptx, Does.Contain("st.shared.v4.u32"), "the split pass's 16-byte stores");
            }
        });
    }

    /// <summary>With a block mask (document masks, their element test on partial tiles only: ids loaded, or computed from the
    /// position as the benchmark's) the tensor-core kernels keep their register arrays in registers: the walk past empty tiles
    /// (<see cref="BlockMaskWalk"/>) adds lookups, no local memory.</summary>
    [TestCase(typeof(DocumentMask))]
    [TestCase(typeof(Api.TwoDocuments))]
    public void TensorCoreBlockMaskKernelsKeepRegisterArrays(Type mask)
    {
        int flags = AttentionModifiers<NoScoreModifier, DocumentMask>.MaskFlag | AttentionModifiers<NoScoreModifier, DocumentMask>.BlockMaskFlag;
        string forward = Compile(typeof(FlashForwardTensorCoreKernel), nameof(FlashForwardTensorCoreKernel.Forward),
            [typeof(Half), typeof(Float16Storage), typeof(NoScoreModifier), mask], $"forward_tc_Half_128_full_{mask.Name}_blocks",
            SpecializedValue.New(128), SpecializedValue.New(ForwardWarps(128, SequenceKind.Dense)), SpecializedValue.New(false), SpecializedValue.New(true), SpecializedValue.New(SequenceKind.Dense),
            SpecializedValue.New(1), SpecializedValue.New(1), SpecializedValue.New(flags));
        string backward = Compile(typeof(FlashBackwardTensorCoreKernel), nameof(FlashBackwardTensorCoreKernel.Backward),
            [typeof(Half), typeof(Float16Storage), typeof(NoScoreModifier), mask], $"backward_tc_Half_128_full_{mask.Name}_blocks",
            SpecializedValue.New(128), SpecializedValue.New(TensorCoreTile.ForBackward(128).Warps), SpecializedValue.New(false), SpecializedValue.New(true),
            SpecializedValue.New(true), SpecializedValue.New(SequenceKind.Dense), SpecializedValue.New(flags), SpecializedValue.New(true), SpecializedValue.New(true));
        Assert.Multiple(() =>
        {
            Assert.That(forward, Does.Not.Contain(".local"), "forward");
            Assert.That(backward, Does.Not.Contain(".local"), "backward");
        });
    }

    /// <summary>Modifiers on the tensor cores run branch-free at clamped positions (<see cref="ModifiedScores.Position"/>), so
    /// the element loops stay one block each: no more conditional branches than plain attention's kernels, and a modifier's loads of one
    /// address merged (CommonSubexpressionElimination numbers global loads): ALiBi's slope once per key block instead of once per score (64), the
    /// document mask's ids once per row and key (forward 4 + 16 instead of 128; backward 4 keys + 8 rows per lane, its warp
    /// tile of Sᵀ being 32 keys × 32 rows). Both passes compile their element loop
    /// twice (blocks at an edge or bound, blocks inside), so the counts are twice that.</summary>
    [TestCase(typeof(Alibi), typeof(NoMaskModifier), 1, 2, 2)]
    [TestCase(typeof(NoScoreModifier), typeof(DocumentMask), 2, 40, 24)]
    [TestCase(typeof(Softcap), typeof(NoMaskModifier), 1, 0, 0)]
    [TestCase(typeof(HardwareTanhSoftcap), typeof(NoMaskModifier), 1, 0, 0)]
    [TestCase(typeof(TanhInCapUnits), typeof(NoMaskModifier), 1, 0, 0)]
    public void TensorCoreModifiersRunBranchFreeAndLoadEachAddressOnce(Type score, Type maskType, int flags, int forwardLoads, int backwardLoads)
    {
        string plainForward = PlainForward.Value, forward = ModifiedForward(score, maskType, flags);
        string plainBackward = PlainBackward.Value, backward = ModifiedBackward(score, maskType, flags);
        // conditional branches: the decisions a modifier could add (unconditional jumps follow the block layout)
        static int Branches(string ptx) => System.Text.RegularExpressions.Regex.Count(ptx, @"@!?%p\d+ bra");
        Assert.Multiple(() =>
        {
            Assert.That(forward, Does.Not.Contain(".local"), "forward: register arrays left in local memory");
            Assert.That(Count(forward, "ld.global"), Is.EqualTo(Count(plainForward, "ld.global") + forwardLoads), "forward: the modifier's loads");
            // the forward's one more: the choice of its clamped instance (a ragged block), which plain attention does not make
            Assert.That(Branches(forward), Is.LessThanOrEqualTo(Branches(plainForward) + 1), "forward: conditional branches beside plain attention's");
            Assert.That(Count(backward, "ld.global"), Is.EqualTo(Count(plainBackward, "ld.global") + backwardLoads), "backward: the modifier's loads");
            Assert.That(Branches(backward), Is.LessThanOrEqualTo(Branches(plainBackward)), "backward: conditional branches beside plain attention's");
        });
    }

    /// <summary>fp16/bf16 calls' softcap (<see cref="HardwareTanhSoftcap"/>) is one <c>tanh.approx</c> per score in both passes,
    /// without the accurate <see cref="Softcap"/>'s rational fit (its reciprocal and a dozen multiply-adds).</summary>
    [Test]
    public void HalfPrecisionSoftcapTakesTheHardwareTanh()
    {
        string plainForward = PlainForward.Value, plainBackward = PlainBackward.Value;
        string forward = ModifiedForward(typeof(HardwareTanhSoftcap), typeof(NoMaskModifier), 1);
        string backward = ModifiedBackward(typeof(HardwareTanhSoftcap), typeof(NoMaskModifier), 1);
        string accurateForward = ModifiedForward(typeof(Softcap), typeof(NoMaskModifier), 1);
        Assert.Multiple(() =>
        {
            Assert.That(Count(forward, "tanh.approx.f32"), Is.GreaterThan(0), "forward");
            Assert.That(Count(backward, "tanh.approx.f32"), Is.GreaterThan(0), "backward");
            Assert.That(Count(forward, "rcp.approx"), Is.EqualTo(Count(plainForward, "rcp.approx")), "forward: no reciprocal beside plain attention's");
            Assert.That(Count(backward, "rcp.approx"), Is.EqualTo(Count(plainBackward, "rcp.approx")), "backward: no reciprocal beside plain attention's");
            Assert.That(Count(accurateForward, "tanh.approx.f32"), Is.Zero, "the accurate softcap keeps its own tanh");
        });
    }

    /// <summary>A softcap alone runs in units of its cap (<see cref="SoftcapInCapUnits"/>): beside plain attention's forward, a
    /// score costs its tanh and one multiply (the raw score by scale / cap), not the three more of scaling into and out of the
    /// tanh and into the log2 domain, which the kernels fold into their per-call scales.</summary>
    [Test]
    public void SoftcapInCapUnitsCostsOneMultiplyPerScore()
    {
        string plain = PlainForward.Value, forward = ModifiedForward(typeof(TanhInCapUnits), typeof(NoMaskModifier), 1);
        int tanh = Count(forward, "tanh.approx.f32");
        Assert.That(tanh, Is.GreaterThan(0));
        Assert.That(Count(forward, "mul.f32") - Count(plain, "mul.f32"), Is.LessThanOrEqualTo(tanh + 4), "multiplies beside plain attention's");
    }

    /// <summary>ALiBi's distance reaches float without <c>cvt.rn.f32.s32</c> (the conversion pipe, at ex2's rate; one per score
    /// before <see cref="XMath.SmallIntToFloat"/>): plain attention's conversions only, in both passes.</summary>
    [Test]
    public void AlibiConvertsItsDistancesWithoutTheConversionPipe()
    {
        string plainForward = PlainForward.Value, plainBackward = PlainBackward.Value;
        string forward = ModifiedForward(typeof(Alibi), typeof(NoMaskModifier), 1);
        string backward = ModifiedBackward(typeof(Alibi), typeof(NoMaskModifier), 1);
        Assert.Multiple(() =>
        {
            Assert.That(Count(forward, "cvt.rn.f32.s32"), Is.EqualTo(Count(plainForward, "cvt.rn.f32.s32")), "forward");
            Assert.That(Count(backward, "cvt.rn.f32.s32"), Is.EqualTo(Count(plainBackward, "cvt.rn.f32.s32")), "backward");
        });
    }

    private static int Count(string ptx, string what) => ptx.Split(what).Length - 1;

    /// <summary>The forward's warps for a padded head dim and sequence kind, on a device with an H100's shared memory.</summary>
    private static int ForwardWarps(int headDimPadded, int sequenceKind, int elementBytes = 2)
        => TensorCoreTile.ForForward(headDimPadded, sequenceKind is SequenceKind.KvCache or SequenceKind.PagedKvCache, elementBytes).Warps;

    /// <summary>The plain kernels the modifier tests compare with, compiled once for all of them.</summary>
    private static readonly Lazy<string> PlainForward = new(() => ModifiedForward(typeof(NoScoreModifier), typeof(NoMaskModifier), 0)),
        PlainBackward = new(() => ModifiedBackward(typeof(NoScoreModifier), typeof(NoMaskModifier), 0));

    private static string ModifiedForward(Type scoreType, Type maskModifier, int modifierFlags) => Compile(typeof(FlashForwardTensorCoreKernel), nameof(FlashForwardTensorCoreKernel.Forward),
        [typeof(Half), typeof(Float16Storage), scoreType, maskModifier], $"forward_tc_Half_128_causal_{scoreType.Name}_{maskModifier.Name}",
        SpecializedValue.New(128), SpecializedValue.New(ForwardWarps(128, SequenceKind.Dense)), SpecializedValue.New(true), SpecializedValue.New(true), SpecializedValue.New(SequenceKind.Dense),
        SpecializedValue.New(1), SpecializedValue.New(1), SpecializedValue.New(modifierFlags));

    private static string ModifiedBackward(Type scoreType, Type maskModifier, int modifierFlags) => Compile(typeof(FlashBackwardTensorCoreKernel),
        nameof(FlashBackwardTensorCoreKernel.Backward), [typeof(Half), typeof(Float16Storage), scoreType, maskModifier],
        $"backward_tc_Half_128_causal_{scoreType.Name}_{maskModifier.Name}", SpecializedValue.New(128),
        SpecializedValue.New(TensorCoreTile.ForBackward(128).Warps), SpecializedValue.New(true), SpecializedValue.New(true), SpecializedValue.New(true),
        SpecializedValue.New(SequenceKind.Dense), SpecializedValue.New(modifierFlags), SpecializedValue.New(true), SpecializedValue.New(true));
}
