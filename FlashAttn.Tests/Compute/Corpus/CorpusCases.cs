using System.Reflection;
using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Tests.Compute.Corpus;

/// <summary>The corpus: every kernel with its inputs and plain C# reference.</summary>
internal static partial class CorpusCases
{
    private const int N = 1000; // deliberately not a multiple of the group size

    /// <summary>
    /// For float expressions of the form a·b + c: the GPU may fuse them into one fma (as nvcc does by
    /// default), which rounds once instead of twice: up to one ulp apart from the CPU.
    /// </summary>
    private const double FusedMultiplyAddTolerance = 1e-6;

    private static MethodInfo K(string name) => typeof(Kernels).GetMethod(name)
        ?? throw new InvalidOperationException($"No corpus kernel {name}.");

    private static LaunchConfig Linear(int n, int group = 128) => new((n + group - 1) / group, group);

    /// <summary>A kernel of the form out[i] = f(in…[i]) over N elements.</summary>
    private static CorpusCase Elementwise<TOut>(string name, Func<Random, Array[]> inputs, Func<Array[], int, TOut> reference,
        TOut poison, double tolerance = 0, MethodInfo? kernel = null, Action<string>? checkPtx = null, object[]? scalars = null)
        => new()
        {
            Name = name,
            Kernel = kernel ?? K(name),
            CheckPtx = checkPtx,
            Create = r =>
            {
                var ins = inputs(r);
                return new CaseData
                {
                    Buffers = [.. ins, Data.Poison(N, poison)],
                    Outputs = [ins.Length],
                    Config = Linear(N),
                    Arguments = views => [.. views, .. scalars ?? []],
                    Reference = b =>
                    {
                        var output = (TOut[])b[ins.Length];
                        for (int i = 0; i < N; i++) output[i] = reference(b, i);
                    },
                    Tolerance = tolerance,
                };
            },
        };

    /// <summary>Vector float reductions (Atomic.AddFour/AddTwo): N groups of <paramref name="width"/> values added into 7 slots.</summary>
    private static CorpusCase AtomicVectorSum(string name, int width) => new()
    {
        Name = name,
        Kernel = K(name),
        CheckPtx = ptx => Assert.That(ptx, Does.Contain($"red.global.add.v{width}.f32").And.Not.Contain("atom.")),
        Create = r => new CaseData
        {
            Buffers = [Data.Floats(r, width * N, 0.1f, 1f), Data.Floats(r, width * 7, 0.1f, 1f)],
            Outputs = [1],
            Config = Linear(N),
            Arguments = v => v,
            Reference = b =>
            {
                var values = (float[])b[0];
                var totals = (float[])b[1];
                var sums = totals.Select(v => (double)v).ToArray();
                for (int i = 0; i < N; i++)
                    for (int e = 0; e < width; e++) sums[width * (i % 7) + e] += values[width * i + e];
                for (int k = 0; k < totals.Length; k++) totals[k] = (float)sums[k];
            },
            Tolerance = 1e-4,
        },
    };

    public static IEnumerable<CorpusCase> All()
    {
        yield return Elementwise("VectorAdd", r => [Data.Floats(r, N), Data.Floats(r, N)],
            (b, i) => ((float[])b[0])[i] + ((float[])b[1])[i], float.NaN,
            checkPtx: ptx => Assert.That(ptx, Does.Contain("ld.global.f32").And.Contain("st.global.f32")));
        yield return Elementwise("RepeatedLoads", r => [Data.Floats(r, N)],
            (b, i) => 3f * ((float[])b[0])[i] + ((float[])b[0])[i] + 0.5f * (((float[])b[0])[i] + 1f), float.NaN, FusedMultiplyAddTolerance,
            checkPtx: ptx => Assert.That(ptx.Split("ld.global").Length - 1, Is.EqualTo(2), "a[i] once before the store, once after"));
        yield return Elementwise("IntArithmetic", r => [Data.Ints(r, N, -100000, 100000), Data.Ints(r, N)],
            (b, i) => Kernels.IntOps(((int[])b[0])[i], ((int[])b[1])[i]), unchecked((int)0xDEADBEEF));
        yield return Elementwise("UnsignedArithmetic",
            r => [Data.Ints(r, N, 1, int.MaxValue).Select(v => (uint)v * 3u).ToArray(), Data.Ints(r, N, 1, int.MaxValue).Select(v => (uint)v).ToArray()],
            (b, i) => Kernels.UIntOps(((uint[])b[0])[i], ((uint[])b[1])[i]), 0xDEADBEEFu);
        yield return Elementwise("LongArithmetic",
            r => [Data.Ints(r, N, int.MinValue, int.MaxValue).Select(v => (long)v * 12345L).ToArray(), Data.Ints(r, N)],
            (b, i) => Kernels.LongOps(((long[])b[0])[i], ((int[])b[1])[i]), long.MinValue);
        yield return Elementwise("PowerOfTwoDivision",
            r => [Data.Ints(r, N, int.MinValue, int.MaxValue), Data.Ints(r, N, int.MinValue, int.MaxValue).Select(v => (long)v * 987654321L).ToArray()],
            (b, i) => Kernels.PowerOfTwoOps(((int[])b[0])[i], ((long[])b[1])[i]), long.MinValue,
            checkPtx: ptx => Assert.That(ptx, Does.Not.Contain("div.s").And.Not.Contain("rem.s").And.Not.Contain("div.u").And.Not.Contain("rem.u")));
        yield return Elementwise("SmallIntToFloat",
            r => [(int[])[.. Data.Ints(r, N - 6, -XMath.SmallIntLimit, XMath.SmallIntLimit), -XMath.SmallIntLimit, XMath.SmallIntLimit, -1, 0, 1, 12345]],
            (b, i) => (float)((int[])b[0])[i], float.NaN,
            checkPtx: ptx => Assert.That(ptx, Does.Not.Contain("cvt.rn.f32.s32")));
        yield return Elementwise("LoopAfterBranch", r => [Data.Floats(r, N), Data.Ints(r, N, -64, 256)],
            (b, i) => Kernels.LoopAfterBranchReference(((float[])b[0])[i], ((int[])b[1])[i]), float.NaN, tolerance: 1e-5,
            checkPtx: ptx => Assert.That(ptx, Does.Not.Contain(".local"), "the loop after the branch was not unrolled"));
        yield return Elementwise("FloatArithmetic", r => [Data.Floats(r, N), Data.Floats(r, N, 0.5f, 3f)],
            (b, i) => Kernels.FloatOps(((float[])b[0])[i], ((float[])b[1])[i]), float.NaN, tolerance: 1e-5);
        yield return Elementwise("DoubleArithmetic", r => [Data.Floats(r, N), Data.Floats(r, N).Select(v => (double)v * 3.3).ToArray()],
            (b, i) => Kernels.DoubleOps(((float[])b[0])[i], ((double[])b[1])[i]), double.NaN, tolerance: 1e-12);
        yield return Elementwise("HalfArithmetic",
            r => [Data.Floats(r, N).Select(v => (Half)v).ToArray(), Data.Floats(r, N, 0.5f, 2f).Select(v => (Half)v).ToArray()],
            (b, i) => Kernels.HalfOps(((Half[])b[0])[i], ((Half[])b[1])[i]), Half.NaN);
        yield return Elementwise("NestedLoopsBreakContinue", r => [Data.Ints(r, N, 10, 3000)],
            (b, i) =>
            {
                var limits = (int[])b[0];
                int limit = limits[i], sum = 0;
                for (int outer = 0; outer < 8; outer++)
                {
                    for (int j = 0; j < 50; j++)
                    {
                        if (j % 3 == 0) continue;
                        sum += j * (outer + 1);
                        if (sum > limit) break;
                    }
                    if (sum > 4 * limit) break;
                }
                return sum;
            }, -1);
        yield return Elementwise("WhileLoop", r => [Data.Ints(r, N, 1, 100000)],
            (b, i) =>
            {
                long x = ((int[])b[0])[i];
                int count = 0;
                while (x != 1 && count < 1000) { x = (x & 1) == 0 ? x / 2 : 3 * x + 1; count++; }
                return count;
            }, -1);
        yield return Elementwise("Switch", r => [Data.Ints(r, N)],
            (b, i) =>
            {
                int v = ((int[])b[0])[i];
                return (v & 7) switch { 0 => v * 2, 1 => v + 100, 2 or 3 => -v, 5 => v ^ 0x1234, _ => 7 };
            }, -1);
        yield return Elementwise("BoolLogic", r => [Data.Ints(r, N), Data.Ints(r, N, 0, 2).Select(v => (byte)(v & 1)).ToArray()],
            (b, i) =>
            {
                int v = ((int[])b[0])[i];
                bool even = (v & 1) == 0, big = v > 300 || v < -300, flag = ((byte[])b[1])[i] != 0;
                bool x = (even && !big) || (flag ^ big);
                return x ? (even ? 1 : 2) : (flag && even ? 3 : 4);
            }, -1);
        yield return Elementwise("StructLocals", r => [Data.Floats(r, N, -2f, 1f), Data.Floats(r, N, -1.2f, 1.2f)],
            (b, i) =>
            {
                var c = new Complex(((float[])b[0])[i], ((float[])b[1])[i]);
                var z = new Complex(0f, 0f);
                int n = 0;
                while (n < 64 && z.MagnitudeSquared <= 4f) { z = z.Square(); z.Add(c); n++; }
                return n;
            }, -1);
        yield return Elementwise("HelpersWithRefAndOut", r => [Data.Floats(r, N), Data.Floats(r, N)],
            (b, i) =>
            {
                float x = ((float[])b[0])[i], y = ((float[])b[1])[i];
                if (x > 0f) (x, y) = (y, x);
                return MathF.Max(x, y) * 10f + MathF.Min(x, y);
            }, float.NaN, tolerance: FusedMultiplyAddTolerance);
        yield return Elementwise("CapturingLocalFunction", r => [Data.Floats(r, N), Data.Floats(r, N)],
            (b, i) =>
            {
                float[] a = (float[])b[0], bb = (float[])b[1];
                bool negative = a[i] < 0f;
                int shift = i % 3;
                float Term(float x, float scale) => (negative ? -x : x) * scale + shift;
                return Term(a[i], 0.5f) + Term(bb[i], 1f) + Term(bb[(i + 1) % bb.Length], 2f);
            }, float.NaN, tolerance: FusedMultiplyAddTolerance);
        yield return Elementwise("GenericScale<float>", r => [Data.Floats(r, N)],
            (b, i) => ((float[])b[0])[i] * 2.5f + 1f, float.NaN, tolerance: FusedMultiplyAddTolerance,
            kernel: K(nameof(Kernels.GenericScale)).MakeGenericMethod(typeof(float), typeof(FloatElement)), scalars: [2.5f]);
        yield return Elementwise("GenericScale<Half>", r => [Data.Floats(r, N).Select(v => (Half)v).ToArray()],
            (b, i) => (Half)((float)((Half[])b[0])[i] * 2.5f + 1f), Half.NaN,
            kernel: K(nameof(Kernels.GenericScale)).MakeGenericMethod(typeof(Half), typeof(HalfElement)), scalars: [2.5f]);
        yield return Elementwise("GenericPolicy<Round>", r => [Data.Floats(r, N)],
            (b, i) => MathF.Round(((float[])b[0])[i] * 10f), float.NaN,
            kernel: K(nameof(Kernels.GenericPolicy)).MakeGenericMethod(typeof(Round)),
            checkPtx: ptx => Assert.That(ptx, Does.Contain("cvt.rni")));
        yield return Elementwise("GenericPolicy<NoRound>", r => [Data.Floats(r, N)],
            (b, i) => ((float[])b[0])[i] * 10f, float.NaN,
            kernel: K(nameof(Kernels.GenericPolicy)).MakeGenericMethod(typeof(NoRound)),
            checkPtx: ptx => Assert.That(ptx, Does.Not.Contain("cvt.rni")));

        yield return new CorpusCase
        {
            Name = "ScalarArguments",
            Kernel = K(nameof(Kernels.StructParameter)),
            Create = r => new CaseData
            {
                Buffers = [Data.Floats(r, N), Data.Floats(r, N)],
                Outputs = [1],
                Config = Linear(N),
                Arguments = v => [new SaxpyArguments { X = (ArrayView<float>)v[0], Y = (ArrayView<float>)v[1], Alpha = 1.75f, Count = N - 3 }],
                Reference = b =>
                {
                    float[] x = (float[])b[0], y = (float[])b[1];
                    for (int i = 0; i < N - 3; i++) y[i] = 1.75f * x[i] + y[i];
                },
                Tolerance = 1e-6,
            },
        };

        yield return new CorpusCase
        {
            Name = "HalfAndBFloat16Conversions",
            Kernel = K(nameof(Kernels.HalfAndBFloat16Conversions)),
            Create = r => new CaseData
            {
                Buffers = [Data.Floats(r, N), Data.Poison(N, Half.NaN), Data.Poison(N, BFloat16.FromRawValue(0x7FC1)), Data.PoisonFloats(N)],
                Outputs = [1, 2, 3],
                Config = Linear(N),
                Arguments = v => v,
                Reference = b =>
                {
                    var a = (float[])b[0];
                    for (int i = 0; i < N; i++)
                    {
                        float x = a[i] * 3.7f;
                        ((Half[])b[1])[i] = (Half)x;
                        ((BFloat16[])b[2])[i] = (BFloat16)x;
                        ((float[])b[3])[i] = (float)(Half)x + (float)(BFloat16)x;
                    }
                },
            },
        };

        yield return new CorpusCase
        {
            Name = "Conversions",
            Kernel = K(nameof(Kernels.Conversions)),
            Create = r => new CaseData
            {
                Buffers = [Data.Floats(r, N, -3f, 3f), Data.PoisonInts(N), Data.PoisonFloats(N), Data.Poison(N, double.NaN), Data.Poison(N, (short)-1), Data.Poison(N, (byte)0xCD)],
                Outputs = [1, 2, 3, 4, 5],
                Config = Linear(N),
                Arguments = v => v,
                Reference = b =>
                {
                    var a = (float[])b[0];
                    for (int i = 0; i < N; i++)
                    {
                        float x = a[i] * 1000f;
                        int n = (int)x;
                        ((int[])b[1])[i] = n;
                        ((float[])b[2])[i] = (float)(uint)(n + 5000) * 0.5f;
                        ((double[])b[3])[i] = (double)((long)n * 1000003L);
                        ((short[])b[4])[i] = (short)(n * 77);
                        ((byte[])b[5])[i] = (byte)n;
                    }
                },
            },
        };

        yield return new CorpusCase
        {
            Name = "MultiDimensionalIndices",
            Kernel = K(nameof(Kernels.MultiDimensionalIndices)),
            Create = _ => new CaseData
            {
                Buffers = [Data.PoisonInts(8 * 3 * 4 * 2 * 2 * 3)],
                Outputs = [0],
                Config = new LaunchConfig(new Dim3(2, 2, 3), new Dim3(4, 3, 2)),
                Arguments = v => v,
                Reference = b =>
                {
                    var o = (int[])b[0];
                    for (int z = 0; z < 6; z++) for (int y = 0; y < 6; y++) for (int x = 0; x < 8; x++)
                        o[(z * 6 + y) * 8 + x] = x + 100 * y + 10000 * z;
                },
            },
        };

        foreach (var c in ParallelCases()) yield return c;
        foreach (var c in MathAndRegisterCases()) yield return c;
    }

    private static IEnumerable<CorpusCase> ParallelCases()
    {
        const int rows = 45, columns = 70;
        yield return new CorpusCase
        {
            Name = "TiledTranspose",
            Kernel = K(nameof(Kernels.TiledTranspose)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("ld.shared.f32").And.Contain("st.shared.f32").And.Contain("bar.sync")),
            Create = r => new CaseData
            {
                Buffers = [Data.Floats(r, rows * columns), Data.PoisonFloats(rows * columns)],
                Outputs = [1],
                Config = new LaunchConfig(new Dim3((columns + 31) / 32, (rows + 31) / 32), new Dim3(Kernels.TransposeTile, Kernels.TransposeRows)),
                Arguments = v => [v[0], v[1], rows, columns],
                Reference = b =>
                {
                    float[] input = (float[])b[0], output = (float[])b[1];
                    for (int y = 0; y < rows; y++) for (int x = 0; x < columns; x++) output[x * rows + y] = input[y * columns + x];
                },
            },
        };
        foreach (bool bulk in new[] { false, true })
            yield return new CorpusCase
            {
                Name = nameof(Kernels.MBarrierHandoff) + (bulk ? "_BulkLoad" : ""),
                Kernel = K(nameof(Kernels.MBarrierHandoff)),
                CheckPtx = ptx => Assert.That(ptx, Does.Contain("mbarrier.init.shared::cta.b64").And.Contain("mbarrier.arrive.expect_tx.shared::cta.b64")
                    .And.Contain("mbarrier.try_wait.parity.shared::cta.b64")
                    .And.Contain(bulk ? "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes" : "mbarrier.complete_tx.shared::cta.b64")),
                Create = r =>
                {
                    const int consumers = 96;
                    return new CaseData
                    {
                        Buffers = [Data.Ints(r, Kernels.HandoffRounds * Kernels.HandoffValues), Data.PoisonInts(Kernels.HandoffRounds * consumers)],
                        Outputs = [1],
                        Config = new LaunchConfig(2, 32 + consumers),
                        Arguments = v => [v[0], v[1], SpecializedValue.New(bulk)],
                        Reference = b =>
                        {
                            int[] input = (int[])b[0], output = (int[])b[1];
                            for (int round = 0; round < Kernels.HandoffRounds; round++)
                                for (int c = 0; c < consumers; c++)
                                    output[round * consumers + c] = input[round * Kernels.HandoffValues + c % Kernels.HandoffValues]
                                        + input[round * Kernels.HandoffValues + (c + 7) % Kernels.HandoffValues];
                        },
                    };
                },
            };
        yield return new CorpusCase
        {
            Name = "AsyncTileCopy",
            Kernel = K(nameof(Kernels.AsyncTileCopy)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("cp.async.cg.shared.global").And.Contain("cp.async.wait_all").And.Contain("bar.sync")),
            Create = r =>
            {
                const int groups = 3, validRows = 11, tileFloats = Kernels.AsyncRows * Kernels.AsyncRowFloats;
                return new CaseData
                {
                    Buffers = [Data.Floats(r, groups * tileFloats), Data.PoisonFloats(groups * tileFloats)],
                    Outputs = [1],
                    Config = new LaunchConfig(new Dim3(groups), new Dim3(64)),
                    Arguments = v => [v[0], v[1], validRows],
                    Reference = b =>
                    {
                        float[] input = (float[])b[0], output = (float[])b[1];
                        for (int g = 0; g < groups; g++)
                            for (int e = 0; e < tileFloats; e++)
                            {
                                int row = e / Kernels.AsyncRowFloats, source = Kernels.AsyncRows - 1 - row;
                                output[g * tileFloats + e] = source < validRows
                                    ? 2f * input[g * tileFloats + source * Kernels.AsyncRowFloats + e % Kernels.AsyncRowFloats] : 0f;
                            }
                    },
                };
            },
        };
        yield return new CorpusCase
        {
            Name = "BlockReduction",
            Kernel = K(nameof(Kernels.BlockReduction)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("ld.shared.f32").And.Contain("bar.sync")),
            Create = r =>
            {
                int groups = (N + Kernels.ReductionGroupSize - 1) / Kernels.ReductionGroupSize;
                return new CaseData
                {
                    Buffers = [Data.Floats(r, N), Data.PoisonFloats(groups)],
                    Outputs = [1],
                    Config = new LaunchConfig(groups, Kernels.ReductionGroupSize),
                    Arguments = v => v,
                    Reference = b =>
                    {
                        var input = (float[])b[0];
                        for (int g = 0; g < groups; g++)
                        {
                            double sum = 0;
                            for (int i = g * Kernels.ReductionGroupSize; i < Math.Min(N, (g + 1) * Kernels.ReductionGroupSize); i++) sum += input[i];
                            ((float[])b[1])[g] = (float)sum;
                        }
                    },
                    Tolerance = 1e-4,
                };
            },
        };
        const int warpThreads = 256;
        yield return new CorpusCase
        {
            Name = "WarpShuffles",
            Kernel = K(nameof(Kernels.WarpShuffles)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("shfl.sync.idx").And.Contain("shfl.sync.bfly").And.Contain("shfl.sync.up").And.Contain("shfl.sync.down")),
            Create = r => new CaseData
            {
                Buffers = [Data.Floats(r, warpThreads), Data.PoisonFloats(warpThreads), Data.PoisonFloats(warpThreads), Data.PoisonInts(warpThreads), Data.PoisonInts(warpThreads)],
                Outputs = [1, 2, 3, 4],
                Config = new LaunchConfig(2, warpThreads / 2),
                Arguments = v => v,
                Reference = b =>
                {
                    var input = (float[])b[0];
                    for (int i = 0; i < warpThreads; i++)
                    {
                        int lane = i % 32, warpBase = i - lane;
                        ((float[])b[1])[i] = input[warpBase + ((lane * 7 + 3) & 31)];
                        ((float[])b[2])[i] = input[warpBase + (lane ^ 5)];
                        ((int[])b[3])[i] = (lane >= 3 ? i - 3 : i) * 3;
                        ((int[])b[4])[i] = (lane + 6 <= 31 ? i + 6 : i) * 5;
                    }
                },
            },
        };
        yield return new CorpusCase
        {
            Name = "WarpReductions",
            Kernel = K(nameof(Kernels.WarpReductions)),
            Create = r => new CaseData
            {
                Buffers = [Data.Floats(r, warpThreads), Data.PoisonFloats(warpThreads / 32), Data.PoisonFloats(warpThreads / 32), Data.PoisonInts(warpThreads)],
                Outputs = [1, 2, 3],
                Config = new LaunchConfig(2, warpThreads / 2),
                Arguments = v => v,
                Reference = b =>
                {
                    var input = (float[])b[0];
                    for (int w = 0; w < warpThreads / 32; w++)
                    {
                        // Butterfly order: the sum is the same tree in every lane; compare with a tolerance.
                        ((float[])b[1])[w] = input.Skip(w * 32).Take(32).Sum();
                        ((float[])b[2])[w] = input.Skip(w * 32).Take(32).Max();
                        int scan = 0;
                        for (int l = 0; l < 32; l++) { scan += (int)(input[w * 32 + l] * 100f); ((int[])b[3])[w * 32 + l] = scan; }
                    }
                },
                Tolerance = 1e-5,
            },
        };
        yield return new CorpusCase
        {
            Name = "WarpIntegerReductions",
            Kernel = K(nameof(Kernels.WarpIntegerReductions)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("redux.sync.min.s32").And.Contain("redux.sync.or.b32")),
            Create = r => new CaseData
            {
                // signed values over the whole int range: the sum wraps, the minimum and maximum are signed
                Buffers = [Data.Ints(r, warpThreads, int.MinValue, int.MaxValue), Data.PoisonInts(warpThreads), Data.PoisonInts(warpThreads),
                    Data.PoisonInts(warpThreads), Data.PoisonInts(warpThreads)],
                Outputs = [1, 2, 3, 4],
                Config = new LaunchConfig(2, warpThreads / 2),
                Arguments = v => v,
                Reference = b =>
                {
                    var input = (int[])b[0];
                    for (int i = 0; i < warpThreads; i++)
                    {
                        var warp = input.Skip(i / 32 * 32).Take(32).ToArray();
                        ((int[])b[1])[i] = warp.Aggregate(0, (x, y) => unchecked(x + y));
                        ((int[])b[2])[i] = warp.Min();
                        ((int[])b[3])[i] = warp.Max();
                        ((int[])b[4])[i] = warp.Select((v, lane) => v & (0x11 << (lane % 8))).Aggregate(0, (x, y) => x | y);
                    }
                },
            },
        };
        yield return new CorpusCase
        {
            Name = "BallotAndBitCounts",
            Kernel = K(nameof(Kernels.BallotAndBitCounts)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("vote.sync.ballot.b32").And.Contain("brev.b32").And.Contain("clz.b32").And.Contain("popc.b32")
                .And.Contain("brev.b64").And.Contain("clz.b64").And.Contain("popc.b64")),
            Create = r =>
            {
                // zeros among the values (32 zeros to count), and the values' low bits random
                var input = Data.Ints(r, warpThreads, int.MinValue, int.MaxValue);
                for (int i = 0; i < warpThreads; i += 7) input[i] = 0;
                return new CaseData
                {
                    Buffers = [input, Data.PoisonInts(warpThreads), Data.PoisonInts(warpThreads), Data.PoisonInts(warpThreads), Data.PoisonInts(warpThreads)],
                    Outputs = [1, 2, 3, 4],
                    Config = new LaunchConfig(2, warpThreads / 2),
                    Arguments = v => v,
                    Reference = b =>
                    {
                        var values = (int[])b[0];
                        for (int i = 0; i < warpThreads; i++)
                        {
                            uint ballot = 0;
                            for (int lane = 0; lane < 32; lane++)
                                if ((values[i / 32 * 32 + lane] & 1) != 0) ballot |= 1u << lane;
                            ((int[])b[1])[i] = (int)ballot;
                            ((int[])b[2])[i] = System.Numerics.BitOperations.TrailingZeroCount((uint)values[i]);
                            ((int[])b[3])[i] = System.Numerics.BitOperations.LeadingZeroCount((uint)values[i]);
                            ulong wide = (ulong)(long)values[i] * 0x9E37_79B9_7F4A_7C15UL;
                            ((int[])b[4])[i] = System.Numerics.BitOperations.PopCount((uint)values[i])
                                + System.Numerics.BitOperations.TrailingZeroCount(values[i] >> 3)
                                + 1000 * (System.Numerics.BitOperations.PopCount(wide) + 100 * System.Numerics.BitOperations.TrailingZeroCount((long)wide))
                                + 1_000_000 * System.Numerics.BitOperations.LeadingZeroCount(wide >> (values[i] & 63));
                        }
                    },
                };
            },
        };
        yield return new CorpusCase
        {
            Name = "AtomicHistogram",
            Kernel = K(nameof(Kernels.AtomicHistogram)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("atom.global.add")),
            Create = r => new CaseData
            {
                Buffers = [Data.Ints(r, N, 0, 1 << 30), new int[37]],
                Outputs = [1],
                Config = Linear(N),
                Arguments = v => v,
                Reference = b => { foreach (int v in (int[])b[0]) ((int[])b[1])[(v & 0x7FFFFFFF) % 37]++; },
            },
        };
        yield return new CorpusCase
        {
            Name = "AtomicFloatSum",
            Kernel = K(nameof(Kernels.AtomicFloatSum)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("atom.global.add.f32")),
            Create = r => new CaseData
            {
                Buffers = [Data.Floats(r, N, 0.1f, 1f), new float[] { 0.5f }],
                Outputs = [1],
                Config = Linear(N),
                Arguments = v => v,
                Reference = b => ((float[])b[1])[0] = 0.5f + (float)((float[])b[0]).Sum(v => (double)v),
                Tolerance = 1e-4,
            },
        };
        yield return AtomicVectorSum(nameof(Kernels.AtomicFourFloatSum), 4);
        yield return AtomicVectorSum(nameof(Kernels.AtomicTwoFloatSum), 2);
        yield return new CorpusCase
        {
            Name = "AtomicMaxAndCompareExchange",
            Kernel = K(nameof(Kernels.AtomicMaxAndCompareExchange)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("atom.global.cas.b32").And.Contain("atom.global.max.s32")),
            Create = r => new CaseData
            {
                Buffers = [Data.Ints(r, N, -100000, 100000), new[] { int.MinValue }, new[] { 0 }, new[] { int.MaxValue }],
                Outputs = [1, 2, 3],
                Config = Linear(N),
                Arguments = v => v,
                Reference = b =>
                {
                    var values = (int[])b[0];
                    ((int[])b[1])[0] = values.Max();
                    ((int[])b[2])[0] = N;
                    ((int[])b[3])[0] = values.Min();
                },
            },
        };
        yield return new CorpusCase
        {
            Name = "SharedAtomicsAndBarrierVotes",
            Kernel = K(nameof(Kernels.SharedAtomicsAndBarrierVotes)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("atom.shared.add").And.Contain("bar.red.popc")),
            Create = r => new CaseData
            {
                Buffers = [Data.Ints(r, 4 * 64), Data.PoisonInts(4 * 4)],
                Outputs = [1],
                Config = new LaunchConfig(4, 64),
                Arguments = v => v,
                Reference = b =>
                {
                    var values = (int[])b[0];
                    for (int g = 0; g < 4; g++)
                    {
                        var slice = values.Skip(g * 64).Take(64).ToArray();
                        var o = (int[])b[1];
                        o[g * 4] = slice.Count(v => v > 0);
                        o[g * 4 + 1] = slice.Count(v => v > 0);
                        o[g * 4 + 2] = slice.All(v => v > -2000) ? 1 : 0;
                        o[g * 4 + 3] = slice.Any(v => v > 990) ? 1 : 0;
                    }
                },
            },
        };
        yield return new CorpusCase
        {
            Name = "DynamicSharedReverse",
            Kernel = K(nameof(Kernels.DynamicSharedReverse)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain(".extern .shared")),
            Create = r => new CaseData
            {
                Buffers = [Data.Floats(r, 3 * 96), Data.PoisonFloats(3 * 96)],
                Outputs = [1],
                Config = new LaunchConfig(3, 96, 128 * sizeof(float)),
                Arguments = v => v,
                Reference = b =>
                {
                    float[] input = (float[])b[0], output = (float[])b[1];
                    for (int g = 0; g < 3; g++) for (int t = 0; t < 96; t++) output[g * 96 + t] = input[g * 96 + 95 - t] + 128;
                },
            },
        };
    }

    private static IEnumerable<CorpusCase> MathAndRegisterCases()
    {
        yield return new CorpusCase
        {
            Name = "MathFunctions",
            Kernel = K(nameof(Kernels.MathFunctions)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("sqrt.rn.f32").And.Contain("fma.rn.f32")),
            Create = r => new CaseData
            {
                Buffers = [Data.Floats(r, N, -3f, 3f), Data.PoisonFloats(N * Kernels.MathFunctionCount)],
                Outputs = [1],
                Config = Linear(N),
                Arguments = v => v,
                Reference = b =>
                {
                    var input = (float[])b[0];
                    var o = (float[])b[1];
                    for (int i = 0; i < N; i++)
                    {
                        float x = input[i], p = MathF.Abs(x) + 0.5f;
                        float[] expected =
                        [
                            MathF.Exp(x), MathF.Log(p), MathF.Sqrt(p), 1f / MathF.Sqrt(p), MathF.Tanh(x), MathF.Pow(2f, x), MathF.Log2(p),
                            MathF.Sin(x), MathF.Cos(x), MathF.Pow(p, 1.7f), MathF.FusedMultiplyAdd(x, p, 0.25f),
                            MathF.Floor(x * 3f) + MathF.Ceiling(x * 5f), MathF.Round(x * 7f) + MathF.Truncate(x * 9f),
                            MathF.Max(x, 0.1f) - MathF.Min(x, -0.1f), MathF.CopySign(p, x), MathF.Exp(x) + MathF.Sqrt(p) + MathF.Max(x, 0f),
                            float.IsNaN(MathF.Sqrt(x)) ? 1f : 2f,
                        ];
                        expected.CopyTo(o, i * Kernels.MathFunctionCount);
                    }
                },
                Tolerance = 2e-6,
            },
        };
        yield return new CorpusCase
        {
            Name = "FastMath",
            Kernel = K(nameof(Kernels.FastMath)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("ex2.approx").And.Contain("rsqrt.approx").And.Contain("tanh.approx")),
            Create = r => new CaseData
            {
                Buffers = [Data.Floats(r, N, -3f, 3f), Data.PoisonFloats(N * Kernels.FastMathFunctionCount)],
                Outputs = [1],
                Config = Linear(N),
                Arguments = v => v,
                Reference = b =>
                {
                    var input = (float[])b[0];
                    var o = (float[])b[1];
                    for (int i = 0; i < N; i++)
                    {
                        float x = input[i], p = MathF.Abs(x) + 0.5f;
                        float[] expected = [MathF.Pow(2f, x), MathF.Exp(x), MathF.Log2(p), 1f / MathF.Sqrt(p), MathF.Tanh(x), 1f / p, x / p];
                        expected.CopyTo(o, i * Kernels.FastMathFunctionCount);
                    }
                },
                Tolerance = 2e-3, // tanh.approx has about 2^-11 relative error
            },
        };
        yield return new CorpusCase
        {
            Name = "RegisterArray",
            Kernel = K(nameof(Kernels.RegisterArray)),
            ExpectNoLocalMemory = true,
            Create = r => new CaseData
            {
                Buffers = [Data.Floats(r, 96 * Kernels.RegisterCount), Data.PoisonFloats(96 * Kernels.RegisterCount)],
                Outputs = [1],
                Config = Linear(96, 32),
                Arguments = v => v,
                Reference = b =>
                {
                    float[] input = (float[])b[0], output = (float[])b[1];
                    for (int i = 0; i < 96; i++)
                    {
                        var reg = input.AsSpan(i * Kernels.RegisterCount, Kernels.RegisterCount).ToArray();
                        for (int pass = 0; pass < 3; pass++) for (int k = 1; k < reg.Length; k++) reg[k] += reg[k - 1] * 0.5f;
                        for (int k = 0; k < reg.Length; k++) output[i * Kernels.RegisterCount + reg.Length - 1 - k] = reg[k];
                    }
                },
                Tolerance = 1e-5,
            },
        };
        const int n = 37, tile = 16, regs = 4;
        yield return new CorpusCase
        {
            Name = "RegisterBlockedMatmul",
            Kernel = K(nameof(Kernels.RegisterBlockedMatmul)),
            ExpectNoLocalMemory = true,
            CheckPtx = ptx =>
            {
                Assert.That(ptx, Does.Contain("ld.shared.f32").And.Not.Contain("ld.f32"));
                // Address reassociation: unrolled shared loads share a base register and carry immediate offsets.
                Assert.That(ptx, Does.Match(@"ld\.shared\.f32 %f\d+, \[%rd\d+\+\d+\]"));
            },
            Create = r => new CaseData
            {
                Buffers = [Data.Floats(r, n * n), Data.Floats(r, n * n), Data.PoisonFloats(n * n)],
                Outputs = [2],
                Config = new LaunchConfig(new Dim3((n + tile - 1) / tile, (n + tile - 1) / tile), (tile / regs) * (tile / regs)),
                Arguments = v => [v[0], v[1], v[2], n, SpecializedValue.New(tile), SpecializedValue.New(regs)],
                Reference = b =>
                {
                    float[] a = (float[])b[0], bm = (float[])b[1], c = (float[])b[2];
                    for (int i = 0; i < n; i++) for (int j = 0; j < n; j++)
                    {
                        double s = 0;
                        for (int k = 0; k < n; k++) s += (double)a[i * n + k] * bm[k * n + j];
                        c[i * n + j] = (float)s;
                    }
                },
                Tolerance = 1e-4,
            },
        };
        yield return new CorpusCase
        {
            Name = "SpecializedPolynomial",
            Kernel = K(nameof(Kernels.SpecializedPolynomial)),
            ExpectNoLocalMemory = true,
            Create = r => new CaseData
            {
                Buffers = [Data.Floats(r, N, -1f, 1f), Data.PoisonFloats(N)],
                Outputs = [1],
                Config = Linear(N),
                Arguments = v => [v[0], v[1], SpecializedValue.New(6)],
                Reference = b =>
                {
                    float[] x = (float[])b[0], y = (float[])b[1];
                    for (int i = 0; i < N; i++)
                    {
                        float sum = 0f, power = 1f;
                        for (int k = 0; k <= 6; k++) { sum += power / (k + 1); power *= x[i]; }
                        y[i] = sum;
                    }
                },
                Tolerance = 1e-6,
            },
        };
        yield return new CorpusCase
        {
            Name = "VectorCopy",
            Kernel = K(nameof(Kernels.VectorCopy)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("ld.global.v4.f32").And.Contain("st.global.v4.f32")),
            Create = r =>
            {
                var f = Data.Floats(r, 4 * N);
                var input = Enumerable.Range(0, N).Select(i => new Float4(f[4 * i], f[4 * i + 1], f[4 * i + 2], f[4 * i + 3])).ToArray();
                return new CaseData
                {
                    Buffers = [input, Data.Poison(N, new Float4(float.NaN, float.NaN, float.NaN, float.NaN))],
                    Outputs = [1],
                    Config = Linear(N),
                    Arguments = v => v,
                    Reference = b => ((Float4[])b[0]).CopyTo((Float4[])b[1], 0),
                };
            },
        };
        foreach (var tensorCoreCase in TensorCoreCases()) yield return tensorCoreCase;
    }
}
