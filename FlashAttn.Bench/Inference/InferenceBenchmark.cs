using FlashAttn.Bench.Attention;
using FlashAttn.Bench.Cli;
using FlashAttn.Bench.Timing;
using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Kernels;

namespace FlashAttn.Bench.Inference;

/// <summary>
/// The <c>inference</c> verb (issue 13's targets): decode (s_q = 1 against a KV cache, contiguous and paged, GQA) as ms
/// and effective KV read bandwidth; varlen prefill of mixed lengths beside a dense call of the same total work, as
/// TFLOP/s forward and backward. Launches through <see cref="AttentionLauncher"/> on preallocated buffers, CUDA events,
/// median of the runs after warm-up. Prints a markdown table (also to --md).
/// </summary>
internal static class InferenceBenchmark
{
    public const string Usage =
        "inference [--device cuda|cpu] [--rows decode|varlen|all] [--batches 1,16,64] [--caches 4096,32768,131072] [--page 64] " +
        "[--splits 0] [--runs 20] [--warmup 5] [--md FILE]";

    private static readonly string[] ValueOptions = ["--device", "--rows", "--batches", "--caches", "--page", "--splits", "--runs", "--warmup", "--md"];

    private const int HeadsQ = 32, HeadsKV = 8, HeadDim = 128;

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (!VerbArguments.TryParse(args, ValueOptions, null, line => (Line: line, Cpu: DeviceOption.ParseCpu(line),
                Rows: line.Choice("--rows", "all", "decode", "varlen", "all"), Runs: line.NonNegative("--runs", 20), Warmup: line.NonNegative("--warmup", 5),
                Page: line.NonNegative("--page", 64), Splits: line.NonNegative("--splits", 0), Batches: line.Positives("--batches", [1, 16, 64]),
                Caches: line.Positives("--caches", [4096, 32768, 131072])), "FlashAttn.Bench " + Usage, error, out var o))
            return 2;
        using var accelerator = DeviceOption.Open(o.Cpu, error);
        if (accelerator is null) return 2;
        using var timer = DeviceOption.Timer(accelerator);
        var line = o.Line;
        string rows = o.Rows;
        int runs = o.Runs, warmup = o.Warmup, page = o.Page, splits = o.Splits;
        var table = new List<string>();
        if (rows is "decode" or "all")
        {
            table.Add("| b | cache | layout | splits | ms | KV TB/s |");
            table.Add("|---|---|---|---|---|---|");
            foreach (int batch in o.Batches)
                foreach (int cache in o.Caches)
                    foreach (int layoutPage in new[] { 0, page })
                        table.Add(Decode(accelerator, timer, batch, cache, layoutPage, splits, runs, warmup, error));
        }
        if (rows is "varlen" or "all")
        {
            table.Add("");
            table.Add("| call | tokens | fwd ms | fwd TFLOP/s | bwd ms | bwd TFLOP/s |");
            table.Add("|---|---|---|---|---|---|");
            table.AddRange(Varlen(accelerator, timer, runs, warmup, error));
        }
        string markdown = string.Join('\n', table) + "\n";
        output.Write(markdown);
        if (line.Value("--md") is { } md) File.WriteAllText(md, markdown);
        return 0;
    }

    /// <summary>One decode row: q (b, 1, 32, 128) against cache keys of <paramref name="cache"/> tokens per sequence.</summary>
    private static string Decode(Accelerator accelerator, ILaunchTimer timer, int batch, int cache, int page, int splits, int runs, int warmup,
        TextWriter error)
    {
        string layout = page == 0 ? "contiguous" : $"paged {page}";
        try
        {
            int blocks = page == 0 ? 0 : (cache + page - 1) / page;
            var shape = page == 0
                ? new KvCacheShape(batch, 1, HeadsQ, HeadsKV, HeadDim, batch, cache, false, 0, 0)
                : new KvCacheShape(batch, 1, HeadsQ, HeadsKV, HeadDim, batch * blocks, page, true, blocks, 0);
            long cacheElements = (long)shape.CacheEntries * shape.CacheLength * HeadsKV * HeadDim;
            using var q = Filled<Half>(accelerator, (long)batch * HeadsQ * HeadDim, 1);
            using var k = Filled<Half>(accelerator, cacheElements, 2);
            using var v = Filled<Half>(accelerator, cacheElements, 3);
            using var o = accelerator.Allocate<Half>(q.Length);
            using var lse = accelerator.Allocate<float>((long)batch * HeadsQ);
            using var seqlens = accelerator.Allocate<int>(batch);
            seqlens.CopyFromHost(Enumerable.Repeat(cache, batch).ToArray());
            // pages of a sequence scattered through the pool (a reversed, interleaved order), as a serving stack leaves them
            using var table = accelerator.Allocate<int>(Math.Max(1, batch * blocks));
            if (blocks > 0)
                table.CopyFromHost(Enumerable.Range(0, batch * blocks).Select(i => (i % blocks) * batch + (batch - 1 - i / blocks)).ToArray());
            var index = new KvCacheIndex(seqlens.View, default, page == 0 ? default : table.View);
            var settings = new AttentionSettings(1f / MathF.Sqrt(HeadDim), Causal: true);
            Action<int> launch = _ => AttentionLauncher.ForwardKvCache(accelerator, shape, settings, splits, q.View, k.View, v.View, default, default,
                index, o.View, lse.View);
            double ms = Time(accelerator, timer, launch, runs, warmup);
            double bytes = 2.0 * batch * cache * HeadsKV * HeadDim * sizeof(short);
            int chosen = splits > 0 ? splits : AttentionLauncher.KvCacheSplits(batch * HeadsKV, (cache + 63) / 64, accelerator.Info.MultiprocessorCount);
            return $"| {batch} | {cache} | {layout} | {chosen} | {ms:F4} | {bytes / (ms * 1e9):F2} |";
        }
        catch (Exception e)
        {
            error.WriteLine($"decode b{batch} cache{cache} {layout}: {e.GetType().Name}: {e.Message}");
            return $"| {batch} | {cache} | {layout} | | error: {e.GetType().Name} | |";
        }
    }

    /// <summary>Varlen prefill: 64k tokens of mixed lengths (64 … 8k), beside dense b = 8 × 8k of the same tokens.</summary>
    private static IEnumerable<string> Varlen(Accelerator accelerator, ILaunchTimer timer, int runs, int warmup, TextWriter error)
    {
        int[] lengths = [8192, 64, 4096, 1024, 8192, 256, 2048, 1024, 8192, 128, 4096, 1024, 7168, 2048, 1536, 1024, 8192, 64, 4096, 2048, 1024]; // 65,536
        int total = lengths.Sum();
        int heads = 16, d = 128;
        var settings = new AttentionSettings(1f / MathF.Sqrt(d), Causal: true);
        var results = new List<string>();
        try
        {
            int[] cu = new int[lengths.Length + 1];
            for (int i = 0; i < lengths.Length; i++) cu[i + 1] = cu[i] + lengths[i];
            var shape = new VarlenShape(lengths.Length, total, total, lengths.Max(), lengths.Max(), heads, heads, d);
            using var cuBuffer = accelerator.Allocate<int>(cu.Length);
            cuBuffer.CopyFromHost(cu);
            long elements = (long)total * heads * d;
            using var q = Filled<Half>(accelerator, elements, 4);
            using var k = Filled<Half>(accelerator, elements, 5);
            using var v = Filled<Half>(accelerator, elements, 6);
            using var dOut = Filled<Half>(accelerator, elements, 7);
            using var o = accelerator.Allocate<Half>(elements);
            using var lse = accelerator.Allocate<float>((long)heads * total);
            using var dq = accelerator.Allocate<Half>(elements);
            using var dk = accelerator.Allocate<Half>(elements);
            using var dv = accelerator.Allocate<Half>(elements);
            double flops = lengths.Sum(s => AttentionFlops.Forward(1, s, s, heads, d, causal: true));
            double fwd = Time(accelerator, timer, _ => AttentionLauncher.ForwardVarlen(accelerator, shape, settings, q.View, k.View, v.View,
                cuBuffer.View, cuBuffer.View, o.View, lse.View), runs, warmup);
            double bwd = Time(accelerator, timer, _ => AttentionLauncher.BackwardVarlen(accelerator, shape, settings, q.View, k.View, v.View,
                o.View, dOut.View, lse.View, cuBuffer.View, cuBuffer.View, dq.View, dk.View, dv.View), runs, warmup);
            results.Add($"| varlen {lengths.Length} seqs (64…8192) | {total} | {fwd:F3} | {AttentionFlops.Tflops(flops, fwd):F1} | {bwd:F3} | {AttentionFlops.Tflops(2.5 * flops, bwd):F1} |");

            // dense of the same total work per token: b × 8k
            int seq = 8192, batch = total / seq;
            var dense = new AttentionShape(batch, seq, seq, heads, heads, d);
            int denseElements = batch * seq * heads * d, denseRows = batch * heads * seq;
            double denseFlops = AttentionFlops.Forward(batch, seq, seq, heads, d, causal: true);
            double denseFwd = Time(accelerator, timer, _ => AttentionLauncher.Forward(accelerator, dense, settings, q.View.SubView(0, denseElements),
                k.View.SubView(0, denseElements), v.View.SubView(0, denseElements), o.View.SubView(0, denseElements), lse.View.SubView(0, denseRows)), runs, warmup);
            double denseBwd = Time(accelerator, timer, _ => AttentionLauncher.Backward(accelerator, dense, settings, q.View.SubView(0, denseElements),
                k.View.SubView(0, denseElements), v.View.SubView(0, denseElements), o.View.SubView(0, denseElements), dOut.View.SubView(0, denseElements),
                lse.View.SubView(0, denseRows), dq.View.SubView(0, denseElements), dk.View.SubView(0, denseElements),
                dv.View.SubView(0, denseElements)), runs, warmup);
            results.Add($"| dense b{batch} × {seq} | {batch * seq} | {denseFwd:F3} | {AttentionFlops.Tflops(denseFlops, denseFwd):F1} | {denseBwd:F3} | {AttentionFlops.Tflops(2.5 * denseFlops, denseBwd):F1} |");
        }
        catch (Exception e)
        {
            error.WriteLine($"varlen: {e.GetType().Name}: {e.Message}");
            results.Add($"| varlen | | error: {e.GetType().Name} | | | |");
        }
        return results;
    }

    private static double Time(Accelerator accelerator, ILaunchTimer timer, Action<int> launch, int runs, int warmup)
    {
        for (int run = 0; run < warmup; run++) launch(run);
        accelerator.Synchronize();
        return Median.Of(timer.TimeEach(runs, launch));
    }

    private static MemoryBuffer<T> Filled<T>(Accelerator accelerator, long length, int seed) where T : unmanaged
    {
        var buffer = accelerator.Allocate<T>(length);
        RandomFill.Fill(buffer, seed);
        return buffer;
    }
}
