using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Tests.Compute.Corpus;

/// <summary>Corpus cases of the tensor-core intrinsics: references written from the PTX ISA's fragment layouts.</summary>
internal static partial class CorpusCases
{
    /// <summary>fp32 sums of 16 exact products, against an fp64 reference: a few ulp of the largest partial sum.</summary>
    private const double MmaTolerance = 1e-5;

    private static Half[] RandomHalves(Random r, int n) => Data.Floats(r, n, -1f, 1f).Select(v => (Half)v).ToArray();

    /// <summary>D = A·B + C for <paramref name="problems"/> problems; A 16 × 16 row-major, B given as Bᵀ (8 × 16), C/D 16 × 8.</summary>
    private static void MultiplyReference(Func<int, double> a, Func<int, double> bColumns, float[] c, float[] d, int problems)
    {
        for (int p = 0; p < problems; p++)
            for (int row = 0; row < 16; row++)
                for (int col = 0; col < 8; col++)
                {
                    double sum = c[p * 128 + row * 8 + col];
                    for (int k = 0; k < 16; k++) sum += a(p * 256 + row * 16 + k) * bColumns(p * 128 + col * 16 + k);
                    d[p * 128 + row * 8 + col] = (float)sum;
                }
    }

    /// <summary>
    /// <see cref="Kernels.WarpGroupProduct{T}"/> in one swizzle: D = A · Bᵀᵀ of 64 × 64 tiles against fp64. The accumulators'
    /// places check the wgmma fragment layout and the product checks the descriptors' addressing, which the staging writes
    /// by its own formula; on the GPU both meet the hardware's.
    /// </summary>
    private static CorpusCase WarpGroupProduct<T>(SharedSwizzle swizzle, Func<float, T> round, Func<T, double> widen, string type,
        bool transposeB, bool registerA, bool transposeA = false) where T : unmanaged
    {
        const int k = Kernels.WarpGroupK, n = Kernels.WarpGroupN;
        string name = $"{nameof(Kernels.WarpGroupProduct)}_{type}_{swizzle}{(transposeB ? "_mnMajorB" : "")}{(registerA ? "_registerA" : "")}"
            + (transposeA ? "_mnMajorA" : "");
        return new CorpusCase
        {
            Name = name,
            Kernel = K(nameof(Kernels.WarpGroupProduct)).MakeGenericMethod(typeof(T)),
            ExpectNoLocalMemory = true,
            CheckPtx = ptx => Assert.That(ptx, Does.Contain(".target sm_90a")
                .And.Match($@"wgmma\.mma_async\.sync\.aligned\.m64n64k16\.f32\.{type}\.{type} \{{[^}}]+\}}, "
                    + (registerA ? @"\{%r\d+, %r\d+, %r\d+, %r\d+\}, %rd\d+, %p\d+, 1, 1, " : $@"%rd\d+, %rd\d+, %p\d+, 1, 1, {(transposeA ? 1 : 0)}, ")
                    + (transposeB ? "1;" : "0;"))
                .And.Contain("wgmma.fence.sync.aligned")
                .And.Contain("wgmma.commit_group.sync.aligned").And.Contain("wgmma.wait_group.sync.aligned 0")),
            Create = r => new CaseData
            {
                Buffers = [Data.Floats(r, 64 * k, -1f, 1f).Select(round).ToArray(), Data.Floats(r, n * k, -1f, 1f).Select(round).ToArray(),
                    Data.PoisonFloats(64 * n)],
                Outputs = [2],
                // two 8 KB tiles and the 1 KB the kernel may skip to align them
                Config = new LaunchConfig(1, WarpGroupMma.Threads, 2 * 64 * k * 2 + 1024),
                Arguments = v => [v[0], v[1], v[2], SpecializedValue.New((int)swizzle), SpecializedValue.New(typeof(T) == typeof(BFloat16)),
                    SpecializedValue.New(transposeB), SpecializedValue.New(registerA), SpecializedValue.New(transposeA)],
                Reference = x =>
                {
                    var (a, b, d) = ((T[])x[0], (T[])x[1], (float[])x[2]);
                    for (int row = 0; row < 64; row++)
                        for (int col = 0; col < n; col++)
                        {
                            double sum = 0;
                            for (int e = 0; e < k; e++) sum += widen(a[row * k + e]) * widen(b[col * k + e]);
                            d[row * n + col] = (float)sum;
                        }
                },
                Tolerance = MmaTolerance,
            },
        };
    }

    /// <summary>
    /// <see cref="Kernels.WarpSpecializedProduct"/>: A and B (64 × 256 each, fp16) drawn row-major, handed to the kernel per
    /// k-block of 64 in the 128-byte swizzled K-major tile layout (element (row, k) of a block at byte row/8·1024 +
    /// row%8·128 + 2k, its 16-byte chunk XOR the row within 8), the reference from the row-major draws in fp64.
    /// </summary>
    private static CorpusCase WarpSpecializedProduct()
    {
        const int steps = Kernels.PipelineSteps, depth = 64 * steps, tile = Kernels.PipelineTileHalves;
        static Half[] Arranged(Half[] rowMajor)
        {
            var arranged = new Half[steps * tile];
            for (int step = 0; step < steps; step++)
                for (int row = 0; row < 64; row++)
                    for (int k = 0; k < 64; k++)
                    {
                        int offset = row / 8 * 1024 + row % 8 * 128 + 2 * k;
                        offset ^= (offset >> 7 & 7) << 4;
                        arranged[step * tile + offset / 2] = rowMajor[row * depth + 64 * step + k];
                    }
            return arranged;
        }
        return new CorpusCase
        {
            Name = nameof(Kernels.WarpSpecializedProduct),
            Kernel = K(nameof(Kernels.WarpSpecializedProduct)),
            ExpectNoLocalMemory = true,
            CheckPtx = ptx => Assert.That(ptx, Does.Contain(".target sm_90a").And.Contain("setmaxnreg.dec.sync.aligned.u32 40;")
                .And.Contain("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes")
                .And.Contain("wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16").And.Contain("mbarrier.try_wait.parity")),
            Create = r =>
            {
                var a = RandomHalves(r, 64 * depth);
                var b = RandomHalves(r, 64 * depth);
                return new CaseData
                {
                    Buffers = [Arranged(a), Arranged(b), Data.PoisonFloats(64 * 64)],
                    Outputs = [2],
                    Config = new LaunchConfig(1, 2 * WarpGroupMma.Threads, 2 * 4 * tile + 1024),
                    Arguments = v => v,
                    Reference = x =>
                    {
                        var d = (float[])x[2];
                        for (int row = 0; row < 64; row++)
                            for (int col = 0; col < 64; col++)
                            {
                                double sum = 0;
                                for (int k = 0; k < depth; k++) sum += (double)a[row * depth + k] * (double)b[col * depth + k];
                                d[row * 64 + col] = (float)sum;
                            }
                    },
                    Tolerance = MmaTolerance,
                };
            },
        };
    }

    /// <summary>
    /// <see cref="Kernels.TensorTileLoad"/> in one swizzle: boxes of (64, 32, 16 halves for 128-, 64-, 32-byte rows; 64 without
    /// a swizzle) × 1 head × 32 rows × 1 batch of a (2, 100, 3, 56) tensor, some reaching before or past it in d and in rows
    /// (zeros there), against plain indexing.
    /// </summary>
    private static CorpusCase TensorTileLoad(SharedSwizzle swizzle)
    {
        int rowBytes = SharedSwizzles.RowBytes(swizzle), boxD = rowBytes == 0 ? 64 : rowBytes / 2, box = boxD * Kernels.TileBoxRows;
        const int d = Kernels.TileTensorD, heads = Kernels.TileTensorHeads, rows = Kernels.TileTensorRows, batches = Kernels.TileTensorBatches;
        // for PTX only the kernel is compiled: its views are empty and the map's contents do not matter
        static object Map(object view, int boxD, SharedSwizzle swizzle) => view is ArrayView<Half> { Length: > 0 } data
            ? TensorMap.Tiled(data, [d, heads, rows, batches], [d, heads * d, rows * heads * d], [boxD, 1, Kernels.TileBoxRows, 1], swizzle)
            : default(TensorMap);
        return new CorpusCase
        {
            Name = $"{nameof(Kernels.TensorTileLoad)}_{swizzle}",
            Kernel = K(nameof(Kernels.TensorTileLoad)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain(".param .align 64 .b8 ").And.Contain("cvta.param.u64")
                .And.Contain("cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes")),
            Create = r => new CaseData
            {
                Buffers = [RandomHalves(r, batches * rows * heads * d), Data.Poison(Kernels.TileGroups * box, Half.NaN)],
                Outputs = [1],
                Config = new LaunchConfig(Kernels.TileGroups, 64, 2 * box + 1024),
                Arguments = v => [Map(v[0], boxD, swizzle), v[1], SpecializedValue.New(boxD), SpecializedValue.New(rowBytes)],
                Reference = x =>
                {
                    Half[] input = (Half[])x[0], output = (Half[])x[1];
                    for (int group = 0; group < Kernels.TileGroups; group++)
                    {
                        var (d0, head, row0, batch) = Kernels.TileOrigin(group);
                        for (int row = 0; row < Kernels.TileBoxRows; row++)
                            for (int e = 0; e < boxD; e++)
                            {
                                int column = d0 + e, r = row0 + row;
                                bool inside = column >= 0 && column < d && r >= 0 && r < rows;
                                output[group * box + row * boxD + e] = inside ? input[((batch * rows + r) * heads + head) * d + column] : Half.Zero;
                            }
                    }
                },
            },
        };
    }

    private static CorpusCase MmaFromGlobal<T>(string name, Func<float, T> round, Func<T, double> widen)
    {
        const int problems = 3;
        return new CorpusCase
        {
            Name = name,
            Kernel = K(name),
            ExpectNoLocalMemory = true,
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("mma.sync.aligned.m16n8k16.row.col.f32")),
            Create = r =>
            {
                var a = Data.Floats(r, problems * 256, -1f, 1f).Select(round).ToArray();
                var b = Data.Floats(r, problems * 128, -1f, 1f).Select(round).ToArray();
                return new CaseData
                {
                    Buffers = [a, b, Data.Floats(r, problems * 128), Data.PoisonFloats(problems * 128)],
                    Outputs = [3],
                    Config = new LaunchConfig(problems, 32),
                    Arguments = v => v,
                    Reference = x => MultiplyReference(i => widen(((T[])x[0])[i]), i => widen(((T[])x[1])[i]), (float[])x[2], (float[])x[3], problems),
                    Tolerance = MmaTolerance,
                };
            },
        };
    }

    /// <summary>
    /// Nearest tf32 (11 significant bits; below 2⁻¹²⁶ a fixed quantum of 2⁻¹³⁶), ties away from zero, by scaling in fp64
    /// rather than by bits: independent of <see cref="TensorCore.RoundToTf32"/>.
    /// </summary>
    private static float Tf32Reference(float value)
    {
        if (!float.IsFinite(value) || value == 0f) return value;
        double quantum = Math.ScaleB(1.0, Math.Max(Math.ILogB(value), -126) - 10);
        double magnitude = Math.Floor(Math.Abs((double)value) / quantum + 0.5) * quantum;
        return (float)Math.CopySign(magnitude, value);
    }

    /// <summary>m16n8k8 tf32 products from inputs already rounded to tf32 (what the kernels feed), exact in fp64.</summary>
    private static CorpusCase MmaTf32FromGlobal()
    {
        const int problems = 3;
        return new CorpusCase
        {
            Name = nameof(Kernels.MmaTf32FromGlobal),
            Kernel = K(nameof(Kernels.MmaTf32FromGlobal)),
            ExpectNoLocalMemory = true,
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32")),
            Create = r =>
            {
                var a = Data.Floats(r, problems * 128, -1f, 1f).Select(Tf32Reference).ToArray();
                var b = Data.Floats(r, problems * 64, -1f, 1f).Select(Tf32Reference).ToArray();
                return new CaseData
                {
                    Buffers = [a, b, Data.Floats(r, problems * 128), Data.PoisonFloats(problems * 128)],
                    Outputs = [3],
                    Config = new LaunchConfig(problems, 32),
                    Arguments = v => v,
                    Reference = x =>
                    {
                        float[] pa = (float[])x[0], pb = (float[])x[1], c = (float[])x[2], d = (float[])x[3];
                        for (int p = 0; p < problems; p++)
                            for (int row = 0; row < 16; row++)
                                for (int col = 0; col < 8; col++)
                                {
                                    double sum = c[p * 128 + row * 8 + col];
                                    for (int k = 0; k < 8; k++) sum += (double)pa[p * 128 + row * 8 + k] * pb[p * 64 + col * 8 + k];
                                    d[p * 128 + row * 8 + col] = (float)sum;
                                }
                    },
                    Tolerance = MmaTolerance,
                };
            },
        };
    }

    /// <summary>The registers of every ldmatrix form as <see cref="Kernels.LoadMatrices"/> writes them, from the PTX layout.</summary>
    private static void LoadMatrixReference(Half[] input, int[] output)
    {
        // matrix j of a load: rows 8j…8j+7 of the 32 × 16 input, columns 8·(j / 2)…
        ushort M(int j, int row, int col) => BitConverter.HalfToUInt16Bits(input[(8 * j + row) * 16 + 8 * (j / 2) + col]);
        int Register(int j, int lane, bool transposed)
        {
            int g = lane / 4, pair = 2 * (lane % 4);
            return transposed ? M(j, pair, g) | (M(j, pair + 1, g) << 16) : M(j, g, pair) | (M(j, g, pair + 1) << 16);
        }
        for (int lane = 0; lane < 32; lane++)
        {
            for (int j = 0; j < 4; j++)
            {
                output[4 * lane + j] = Register(j, lane, false);
                output[128 + 4 * lane + j] = Register(j, lane, true);
            }
            for (int j = 0; j < 2; j++)
            {
                output[256 + 2 * lane + j] = Register(j, lane, false);
                output[320 + 2 * lane + j] = Register(j, lane, true);
            }
            output[384 + lane] = Register(0, lane, false);
        }
    }

    /// <summary>
    /// The tiles of <see cref="Kernels.StoreMatrices"/> from the PTX ISA's stmatrix layout: row r of matrix j goes to lane
    /// (8j + r)'s address, its columns 2c, 2c+1 from the low and high halves of lane (4r + c)'s register j; transposed,
    /// row r is column r of that matrix (element k from lane 4k + r / 2, half r % 2). Everything else stays zero.
    /// </summary>
    private static void StoreMatrixTiles(int[] tiles)
    {
        const int tileHalves = Kernels.StoredRows * Kernels.MatrixStride;
        var halves = new ushort[Kernels.StoredForms * tileHalves];
        ushort Half(int lane, int j, int high) => (ushort)(Kernels.StoredRegister(lane, j) >> (16 * high));
        for (int form = 0; form < Kernels.StoredForms; form++)
        {
            int matrices = form < 2 ? 4 : 2;
            bool transposed = form % 2 == 1;
            for (int lane = 0; lane < 8 * matrices; lane++)
            {
                int j = lane / 8, r = lane % 8;
                int start = form * tileHalves + (1 + lane % 16) * Kernels.MatrixStride + 8 * (lane / 16);
                for (int column = 0; column < 8; column++)
                    halves[start + column] = transposed ? Half(4 * column + r / 2, j, r % 2) : Half(4 * r + column / 2, j, column % 2);
            }
        }
        for (int e = 0; e < tiles.Length; e++) tiles[e] = halves[2 * e] | (halves[2 * e + 1] << 16);
    }

    /// <summary>What <see cref="Kernels.StoreMatrices"/>'s ldmatrix gives back: every lane's own registers.</summary>
    private static void StoreMatrixRoundTrip(int[] roundTrip)
    {
        for (int form = 0; form < Kernels.StoredForms; form++)
            for (int lane = 0; lane < 32; lane++)
                for (int j = 0; j < (form < 2 ? 4 : 2); j++) roundTrip[128 * form + 4 * lane + j] = Kernels.StoredRegister(lane, j);
    }

    private static IEnumerable<CorpusCase> TensorCoreCases()
    {
        yield return MmaFromGlobal(nameof(Kernels.MmaF16FromGlobal), v => (Half)v, v => (double)v);
        yield return MmaFromGlobal(nameof(Kernels.MmaBF16FromGlobal), v => (BFloat16)v, v => (float)v);
        foreach (var swizzle in Enum.GetValues<SharedSwizzle>())
        {
            yield return WarpGroupProduct(swizzle, v => (Half)v, v => (double)v, "f16", transposeB: false, registerA: false);
            yield return WarpGroupProduct(swizzle, v => (Half)v, v => (double)v, "f16", transposeB: true, registerA: false);
        }
        yield return WarpSpecializedProduct();
        foreach (var swizzle in Enum.GetValues<SharedSwizzle>()) yield return TensorTileLoad(swizzle);
        foreach (var swizzle in new[] { SharedSwizzle.None, SharedSwizzle.Bytes128 })
        {
            yield return WarpGroupProduct(swizzle, v => (BFloat16)v, v => (float)v, "bf16", transposeB: false, registerA: false);
            yield return WarpGroupProduct(swizzle, v => (BFloat16)v, v => (float)v, "bf16", transposeB: true, registerA: true);
            yield return WarpGroupProduct(swizzle, v => (Half)v, v => (double)v, "f16", transposeB: false, registerA: true);
            yield return WarpGroupProduct(swizzle, v => (Half)v, v => (double)v, "f16", transposeB: true, registerA: false, transposeA: true);
            yield return WarpGroupProduct(swizzle, v => (BFloat16)v, v => (float)v, "bf16", transposeB: false, registerA: false, transposeA: true);
        }
        yield return new CorpusCase
        {
            Name = nameof(Kernels.LoadMatrices),
            Kernel = K(nameof(Kernels.LoadMatrices)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("ldmatrix.sync.aligned.m8n8.x4.shared.b16")
                .And.Contain("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16").And.Contain("ldmatrix.sync.aligned.m8n8.x1.shared.b16")),
            Create = r => new CaseData
            {
                Buffers = [RandomHalves(r, 32 * 16), Data.PoisonInts(416)],
                Outputs = [1],
                Config = new LaunchConfig(1, 32),
                Arguments = v => v,
                Reference = x => LoadMatrixReference((Half[])x[0], (int[])x[1]),
            },
        };
        yield return new CorpusCase
        {
            Name = nameof(Kernels.StoreMatrices),
            Kernel = K(nameof(Kernels.StoreMatrices)),
            CheckPtx = ptx => Assert.That(ptx, Does.Match(@"stmatrix\.sync\.aligned\.m8n8\.x4\.shared\.b16 \[%rd\d+(\+\d+)?\], \{%r\d+, %r\d+, %r\d+, %r\d+\};")
                .And.Contain("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16").And.Contain("stmatrix.sync.aligned.m8n8.x2.shared.b16")
                .And.Contain("stmatrix.sync.aligned.m8n8.x2.trans.shared.b16")),
            Create = _ => new CaseData
            {
                Buffers = [Data.PoisonInts(Kernels.StoredForms * Kernels.StoredRows * Kernels.MatrixStride / 2), Data.PoisonInts(4 * 128)],
                Outputs = [0, 1],
                Config = new LaunchConfig(1, 32),
                Arguments = v => v,
                Reference = x =>
                {
                    StoreMatrixTiles((int[])x[0]);
                    StoreMatrixRoundTrip((int[])x[1]);
                },
            },
        };
        yield return new CorpusCase
        {
            Name = nameof(Kernels.BulkReduceRows),
            Kernel = K(nameof(Kernels.BulkReduceRows)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32")
                .And.Contain("fence.proxy.async.shared::cta").And.Contain("cp.async.bulk.wait_group.read 0")),
            Create = r =>
            {
                // multiples of 1/8 well inside fp32's exact range: the sum is exact in any order the adds meet
                const int groups = 3, tile = Kernels.BulkRows * Kernels.BulkColumns;
                float[] Eighths(int n) => [.. Enumerable.Range(0, n).Select(_ => (r.Next(-64, 64) | 1) / 8f)];
                return new CaseData
                {
                    Buffers = [Eighths(groups * tile), Eighths(groups * tile), Eighths(tile)],
                    Outputs = [2],
                    Config = new LaunchConfig(groups, 64),
                    Arguments = v => v,
                    Reference = x =>
                    {
                        var output = (float[])x[2];
                        for (int g = 0; g < groups; g++)
                            for (int e = 0; e < tile; e++) output[e] += ((float[])x[0])[g * tile + e] + ((float[])x[1])[g * tile + e];
                    },
                };
            },
        };
        yield return new CorpusCase
        {
            Name = nameof(Kernels.MmaFromShared),
            Kernel = K(nameof(Kernels.MmaFromShared)),
            Create = r =>
            {
                var a = RandomHalves(r, 256);
                var bColumns = RandomHalves(r, 128);
                var bRows = new Half[128]; // the same B stored [k][n]
                for (int n = 0; n < 8; n++)
                    for (int k = 0; k < 16; k++) bRows[k * 8 + n] = bColumns[n * 16 + k];
                return new CaseData
                {
                    Buffers = [a, bColumns, bRows, Data.PoisonFloats(256)],
                    Outputs = [3],
                    Config = new LaunchConfig(1, 32),
                    Arguments = v => v,
                    Reference = x =>
                    {
                        var d = (float[])x[3];
                        var one = new float[128];
                        MultiplyReference(i => (double)((Half[])x[0])[i], i => (double)((Half[])x[1])[i], new float[128], one, 1);
                        one.CopyTo(d, 0);
                        one.CopyTo(d, 128);
                    },
                    Tolerance = MmaTolerance,
                };
            },
        };
        yield return MmaTf32FromGlobal();
        yield return new CorpusCase
        {
            Name = nameof(Kernels.RoundToTf32),
            Kernel = K(nameof(Kernels.RoundToTf32)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("cvt.rna.tf32.f32")),
            Create = r =>
            {
                // random values, exact ties (the dropped 13 bits 0x1000, either sign), a carry into the exponent, ±0, ±∞
                var input = Data.Floats(r, N, -3f, 3f);
                float[] special = [BitConverter.Int32BitsToSingle(0x3F801000), BitConverter.Int32BitsToSingle(unchecked((int)0xBF803000)),
                    BitConverter.Int32BitsToSingle(0x3FFFF000), 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, 1e-40f];
                special.CopyTo(input, 0);
                return new CaseData
                {
                    Buffers = [input, Data.PoisonInts(N)],
                    Outputs = [1],
                    Config = Linear(N),
                    Arguments = v => v,
                    Reference = x =>
                    {
                        var f = (float[])x[0];
                        for (int i = 0; i < N; i++) ((int[])x[1])[i] = BitConverter.SingleToInt32Bits(Tf32Reference(f[i]));
                    },
                };
            },
        };
        yield return new CorpusCase
        {
            Name = nameof(Kernels.PackPairs),
            Kernel = K(nameof(Kernels.PackPairs)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("cvt.rn.f16x2.f32").And.Contain("cvt.rn.bf16x2.f32")),
            Create = r =>
            {
                // values with bits below the 16-bit formats' precision, so rounding is exercised
                var input = Data.Floats(r, 2 * N, -3f, 3f);
                return new CaseData
                {
                    Buffers = [input, Data.PoisonInts(N), Data.PoisonInts(N)],
                    Outputs = [1, 2],
                    Config = Linear(N),
                    Arguments = v => v,
                    Reference = x =>
                    {
                        var f = (float[])x[0];
                        for (int i = 0; i < N; i++)
                        {
                            ((int[])x[1])[i] = BitConverter.HalfToUInt16Bits((Half)f[2 * i]) | (BitConverter.HalfToUInt16Bits((Half)f[2 * i + 1]) << 16);
                            ((int[])x[2])[i] = ((BFloat16)f[2 * i]).RawValue | (((BFloat16)f[2 * i + 1]).RawValue << 16);
                        }
                    },
                };
            },
        };
        yield return new CorpusCase
        {
            Name = nameof(Kernels.AsyncCopyGroups),
            Kernel = K(nameof(Kernels.AsyncCopyGroups)),
            CheckPtx = ptx => Assert.That(ptx, Does.Contain("cp.async.commit_group").And.Contain("cp.async.wait_group 1")
                .And.Contain("cp.async.wait_group 0")),
            Create = r =>
            {
                const int tile = Kernels.StagedRows * Kernels.StagedRowHalves;
                return new CaseData
                {
                    Buffers = [RandomHalves(r, 2 * tile), Data.Poison(2 * tile, Half.NaN)],
                    Outputs = [1],
                    Config = new LaunchConfig(1, 64),
                    Arguments = v => v,
                    Reference = x =>
                    {
                        var input = (Half[])x[0];
                        var output = (Half[])x[1];
                        for (int e = 0; e < tile; e++)
                        {
                            output[e] = input[tile - 1 - e];
                            output[tile + e] = input[2 * tile - 1 - e];
                        }
                    },
                };
            },
        };
    }
}
