using FlashAttn.Bench.Attention;
using FlashAttn.Bench.Cli;
using FlashAttn.Bench.Timing;
using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Kernels;

namespace FlashAttn.Bench.Inference;

/// <summary>A relative-position bias table, as a user would write the modifier (the FlexAttention comparison's score_mod).</summary>
internal readonly struct BenchRelativeBias(ArrayView<float> table, int maxDistance) : IScoreModifier
{
    public ArrayView<float> Table { get; } = table;
    public int MaxDistance { get; } = maxDistance;

    public float Apply(float score, ScorePosition at)
        => score + Table[at.Head * (2 * MaxDistance + 1) + XMath.Max(-MaxDistance, XMath.Min(MaxDistance, at.Key - at.Query)) + MaxDistance];

    public float Derivative(float score, ScorePosition at) => 1f;
}

/// <summary>Packed documents of <see cref="Length"/> tokens each: with n documents a sequence's tiles are 1 − 1/n empty
/// without causal (half with two; none with one, whose block mask is all full).</summary>
internal readonly struct BenchDocuments(int length) : IMaskModifier
{
    public int Length { get; } = length;

    public bool Visible(ScorePosition at) => at.Query / Length == at.Key / Length;
}

/// <summary>
/// The <c>modifiers</c> verb (issue 14's targets): each built-in variant beside plain attention at the same shape (fp16,
/// tensor cores, d = 128): window, softcap, ALiBi, dropout, a user relative-position bias; a block-sparse document mask
/// (half of the tiles empty) beside the dense call; and the first-call time of a new modifier type (compile + load).
/// Forward and backward ms, median of the runs after warm-up, CUDA events. Prints a markdown table (also to --md).
/// </summary>
internal static class ModifierBenchmark
{
    public const string Usage = "modifiers [--device cuda|cpu] [--seqlens 4096,16384] [--head-dim 128] [--batch-tokens 16384] [--runs 10] [--warmup 3] [--documents N] [--md FILE]";

    private static readonly string[] ValueOptions = ["--device", "--seqlens", "--head-dim", "--batch-tokens", "--runs", "--warmup", "--documents", "--md"];

    /// <summary>Query and key heads times the head dim (flash-attn's benchmark shapes: h = 2048 / d).</summary>
    private const int HeadWidth = 2048;

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (!VerbArguments.TryParse(args, ValueOptions, null, line => (Line: line, Cpu: DeviceOption.ParseCpu(line), Runs: line.NonNegative("--runs", 10),
                Warmup: line.NonNegative("--warmup", 3), Tokens: line.Positive("--batch-tokens", 16384), SeqLens: line.Positives("--seqlens", [4096, 16384]),
                HeadDim: line.Positive("--head-dim", 128), Documents: line.Positive("--documents", 0)),
                "FlashAttn.Bench " + Usage, error, out var o))
            return 2;
        using var accelerator = DeviceOption.Open(o.Cpu, error);
        if (accelerator is null) return 2;
        using var timer = DeviceOption.Timer(accelerator);
        var line = o.Line;
        int runs = o.Runs, warmup = o.Warmup, tokens = o.Tokens;
        var rows = new List<string> { "| seqlen | variant | fwd ms | fwd / plain | bwd ms | bwd / plain | note |", "|---|---|---|---|---|---|---|" };
        var (compileSeconds, passes) = CompileSeconds();
        rows.Insert(0, $"IL → PTX of the tensor-core forward with a new user modifier (this process's first compile of it): {compileSeconds:F2} s; " +
            $"slowest passes: {passes}\n");
        foreach (int seqLen in o.SeqLens)
        {
            try { rows.AddRange(Shape(accelerator, timer, seqLen, Math.Max(1, tokens / seqLen), o.HeadDim, o.Documents, runs, warmup)); }
            catch (Exception e)
            {
                error.WriteLine($"s{seqLen}: {e.GetType().Name}: {e.Message}");
                rows.Add($"| {seqLen} | error | {e.GetType().Name} | | | | |");
            }
        }
        string markdown = string.Join('\n', rows) + "\n";
        output.Write(markdown);
        if (line.Value("--md") is { } md) File.WriteAllText(md, markdown);
        return 0;
    }

    /// <summary>The rows of one sequence length; with <paramref name="documents"/> &gt; 0 only plain non-causal attention and the
    /// block mask of that many documents (so that a profiler's first document-mask kernels are the block mask's).</summary>
    private static IEnumerable<string> Shape(Accelerator accelerator, ILaunchTimer timer, int seqLen, int batch, int headDim, int documents, int runs,
        int warmup)
    {
        int heads = Math.Max(1, HeadWidth / headDim);
        var shape = new AttentionShape(batch, seqLen, seqLen, heads, heads, headDim);
        long elements = (long)batch * seqLen * heads * headDim;
        using var q = Filled(accelerator, elements, 1);
        using var k = Filled(accelerator, elements, 2);
        using var v = Filled(accelerator, elements, 3);
        using var dOut = Filled(accelerator, elements, 4);
        using var o = accelerator.Allocate<Half>(elements);
        using var lse = accelerator.Allocate<float>((long)batch * heads * seqLen);
        using var dq = accelerator.Allocate<Half>(elements);
        using var dk = accelerator.Allocate<Half>(elements);
        using var dv = accelerator.Allocate<Half>(elements);
        using var slopes = accelerator.Allocate<float>(heads);
        slopes.CopyFromHost([.. Enumerable.Range(0, heads).Select(h => MathF.Pow(2f, -8f * (h + 1) / heads))]);
        const int maxDistance = 128;
        using var table = accelerator.Allocate<float>(heads * (2 * maxDistance + 1));
        RandomFill.Fill(table, 5);
        var causal = new AttentionSettings(1f / MathF.Sqrt(headDim), Causal: true);
        var full = causal with { Causal = false };

        (double Fwd, double Bwd) Time<TScore, TMask>(AttentionSettings settings, AttentionModifiers<TScore, TMask> modifiers)
            where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        {
            void Forward() => AttentionLauncher.Forward(accelerator, shape, settings, modifiers, q.View, k.View, v.View, o.View, lse.View);
            void Backward() => AttentionLauncher.Backward(accelerator, shape, settings, modifiers, q.View, k.View, v.View, o.View, dOut.View, lse.View,
                dq.View, dk.View, dv.View);
            for (int i = 0; i < warmup; i++) { Forward(); Backward(); }
            accelerator.Synchronize();
            double fwd = Median.Of(timer.TimeEach(runs, _ => Forward()));
            double bwd = Median.Of(timer.TimeEach(runs, _ => Backward()));
            return (fwd, bwd);
        }

        string Row(string name, (double Fwd, double Bwd) t, (double Fwd, double Bwd) plain, string note = "")
            => $"| {seqLen} | {name} | {t.Fwd:F3} | {plain.Fwd / t.Fwd:F2}× | {t.Bwd:F3} | {plain.Bwd / t.Bwd:F2}× | {note} |";

        var none = default(AttentionModifiers<NoScoreModifier, NoMaskModifier>);
        using var blocks = accelerator.Allocate<byte>(BlockMask.Elements(shape, perBatch: false, perHead: false));
        (double Fwd, double Bwd) Blocked(int count)
        {
            var mask = new BenchDocuments(seqLen / count);
            var blockMask = AttentionLauncher.BuildBlockMask(accelerator, shape, full, mask, blocks.View, perBatch: false, perHead: false);
            return Time(full, new AttentionModifiers<NoScoreModifier, BenchDocuments>(default, mask, blockMask));
        }
        if (documents > 0)
        {
            var dense = Time(full, none);
            return [Row("plain non-causal", dense, dense), Row($"{documents} document(s) + block mask", Blocked(documents), dense)];
        }
        var plainCausal = Time(causal, none);
        var result = new List<string> { Row("plain causal", plainCausal, plainCausal, $"b{batch} h{heads} d{headDim} fp16") };
        result.Add(Row("window (256, 0) causal", Time(causal with { WindowLeft = 256 }, none), plainCausal, "fewer tiles: faster expected"));
        // what an fp16/bf16 call with AttentionOptions.Softcap alone runs (the hardware tanh, in units of the cap), and the accurate
        // one fp32 calls take
        result.Add(Row("softcap 30", Time(causal, SoftcapInCapUnits.Hardware(30f, default(NoMaskModifier))),
            plainCausal, "tanh.approx, as fp16/bf16 calls"));
        result.Add(Row("softcap 30, accurate tanh", Time(causal, SoftcapInCapUnits.Accurate(30f, default(NoMaskModifier))), plainCausal,
            "fp32 calls' form"));
        result.Add(Row("ALiBi", Time(causal, new AttentionModifiers<Alibi, NoMaskModifier>(new Alibi(slopes.View, heads, false), default)), plainCausal));
        result.Add(Row("dropout 0.1", Time(causal with { Dropout = new Dropout(0.1f, 1, 0) }, none), plainCausal));

        // a user modifier's first call: IL → PTX, driver JIT and load, then the timed runs
        var bias = new AttentionModifiers<BenchRelativeBias, NoMaskModifier>(new BenchRelativeBias(table.View, maxDistance), default);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        AttentionLauncher.Forward(accelerator, shape, causal, bias, q.View, k.View, v.View, o.View, lse.View);
        accelerator.Synchronize();
        double firstCall = watch.Elapsed.TotalSeconds;
        result.Add(Row("user relative bias", Time(causal, bias), plainCausal, $"first forward call {firstCall:F2} s (compile + load)"));

        // block sparsity: two documents per sequence, non-causal: half of the tiles empty. Beside it, what separates the
        // block-mask kernel's cost from the tiles it skips: one document (every tile full: the kernel's own overhead) and four
        // (three quarters empty)
        var plainFull = Time(full, none);
        result.Add(Row("plain non-causal", plainFull, plainFull));
        var halves = new BenchDocuments(seqLen / 2);
        result.Add(Row("document mask, element test only", Time(full, new AttentionModifiers<NoScoreModifier, BenchDocuments>(default, halves)), plainFull));
        result.Add(Row("document mask + block mask (50% empty)", Blocked(2), plainFull, "target ≥ 1.8×"));
        result.Add(Row("one document + block mask (all full)", Blocked(1), plainFull, "the block-mask kernel's overhead: 1.0× expected"));
        result.Add(Row("four documents + block mask (75% empty)", Blocked(4), plainFull, "≤ 4×"));
        return result;
    }

    /// <summary>Seconds to compile the tensor-core forward (d = 128, causal) with <see cref="BenchRelativeBias"/> to PTX, on the host,
    /// and the optimizer passes that took longest (all runs of each pass summed).</summary>
    internal static (double Seconds, string Passes) CompileSeconds()
    {
        var method = typeof(FlashForwardTensorCoreKernel).GetMethod(nameof(FlashForwardTensorCoreKernel.Forward))!
            .MakeGenericMethod(typeof(Half), typeof(Float16Storage), typeof(BenchRelativeBias), typeof(NoMaskModifier));
        var tile = TensorCoreTile.ForForward(128);
        var specializations = new object?[method.GetParameters().Length];
        object[] trailing = [SpecializedValue.New(tile.HeadDimPadded), SpecializedValue.New(tile.Warps), SpecializedValue.New(true), SpecializedValue.New(true), SpecializedValue.New(SequenceKindDense),
            SpecializedValue.New(1), SpecializedValue.New(1), SpecializedValue.New(AttentionModifiers<BenchRelativeBias, NoMaskModifier>.ScoreFlag)];
        for (int i = 0; i < trailing.Length; i++) specializations[^(trailing.Length - i)] = trailing[i];
        var passes = new Dictionary<string, double>();
        var compiler = new KernelCompiler
        {
            OptimizerOptions = new Compute.IR.Transformations.OptimizerOptions
            {
                PassTime = (name, time) => passes[name] = passes.GetValueOrDefault(name) + time.TotalMilliseconds,
            },
        };
        var watch = System.Diagnostics.Stopwatch.StartNew();
        compiler.Compile(method, specializations, Compute.Backends.Ptx.PtxTarget.Default);
        double seconds = watch.Elapsed.TotalSeconds;
        return (seconds, string.Join(", ", passes.OrderByDescending(x => x.Value).Take(4).Select(x => $"{x.Key} {x.Value:F0} ms")));
    }

    /// <summary>SequenceKind.Dense (internal to the kernels).</summary>
    private const int SequenceKindDense = 0;

    private static MemoryBuffer<Half> Filled(Accelerator accelerator, long length, int seed)
    {
        var buffer = accelerator.Allocate<Half>(length);
        RandomFill.Fill(buffer, seed);
        return buffer;
    }
}
