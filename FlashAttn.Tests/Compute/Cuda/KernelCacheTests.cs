using System.Reflection;
using FlashAttn.Compute;
using FlashAttn.Compute.Backends.Ptx;
using FlashAttn.Compute.Frontend;
using FlashAttn.Compute.IR;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Tests.Compute.Cuda;

public class KernelCacheTests
{
    private string _directory = null!;

    private static void Saxpy(ArrayView<float> x, ArrayView<float> y, float alpha, SpecializedValue<int> unroll) { }

    private static void Generic<T>(ArrayView<T> data) where T : unmanaged { }

    private static readonly MethodInfo s_saxpy = typeof(KernelCacheTests).GetMethod(nameof(Saxpy), BindingFlags.NonPublic | BindingFlags.Static)!;

    [SetUp]
    public void CreateDirectory()
    {
        _directory = Path.Combine(Path.GetTempPath(), "flashattn-cache-tests-" + Guid.NewGuid().ToString("N"));
    }

    [TearDown]
    public void DeleteDirectory()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    private static CompiledKernel Compile(MethodInfo method, IReadOnlyList<object?> specializations)
    {
        var view = typeof(ArrayView<float>);
        var pointer = view.GetField("_pointer", BindingFlags.Instance | BindingFlags.NonPublic)!;
        var length = view.GetField("_length", BindingFlags.Instance | BindingFlags.NonPublic)!;
        KernelParameterSlot[] slots =
        [
            new(0, [pointer], IRType.Pointer(AddressSpace.Global)),
            new(0, [length], IRType.Int64),
            new(1, [pointer], IRType.Pointer(AddressSpace.Global)),
            new(1, [length], IRType.Int64),
            new(2, [], IRType.Float32),
        ];
        return new CompiledKernel("saxpy_entry", $"// ptx for unroll {specializations[3]}\n.version 8.0\n", slots, 128);
    }

    private static FakeKernelCompiler NewCompiler() => new((m, s, _) => Compile(m, s));

    private static object?[] Specs(int unroll) => [null, null, null, unroll];

    [Test]
    public void SecondLookupIsAMemoryHit()
    {
        var compiler = NewCompiler();
        var cache = new KernelCache(compiler);
        var first = cache.GetOrCompile(s_saxpy, Specs(4), 90, 12040);
        var second = cache.GetOrCompile(s_saxpy, Specs(4), 90, 12040);
        Assert.That(second, Is.SameAs(first));
        Assert.That(compiler.Calls, Is.EqualTo(1));
        Assert.That(cache.Compilations, Is.EqualTo(1));
        Assert.That(cache.MemoryHits, Is.EqualTo(1));
        Assert.That(cache.DiskDirectory, Is.Null);
    }

    [Test]
    public void CompilerGetsTheSpecializationsAndTheDevicesTarget()
    {
        var compiler = NewCompiler();
        new KernelCache(compiler).GetOrCompile(s_saxpy, Specs(8), 90, 13000);
        var request = compiler.Requests.Single();
        Assert.That(request.Method, Is.EqualTo(s_saxpy));
        Assert.That(request.Specializations, Is.EqualTo(Specs(8)));
        Assert.That(request.Target, Is.EqualTo(PtxTarget.For(13000, 90)));
    }

    [Test]
    public void DifferentSpecializationsOrDevicesCompileSeparately()
    {
        var compiler = NewCompiler();
        var cache = new KernelCache(compiler);
        var a = cache.GetOrCompile(s_saxpy, Specs(4), 90, 12040);
        var b = cache.GetOrCompile(s_saxpy, Specs(8), 90, 12040);
        var c = cache.GetOrCompile(s_saxpy, Specs(4), 80, 12040);
        var d = cache.GetOrCompile(s_saxpy, Specs(4), 90, 13000);
        Assert.That(compiler.Calls, Is.EqualTo(4));
        Assert.That(new[] { a, b, c, d }.Distinct().Count(), Is.EqualTo(4));
    }

    /// <summary>A struct of this assembly, as a user's modifier would be.</summary>
    private readonly struct Probe(int value)
    {
        public int Value { get; } = value;
    }

    [Test]
    public void KeyCoversMethodGenericArgumentsSpecializationsAndDevice()
    {
        var generic = typeof(KernelCacheTests).GetMethod(nameof(Generic), BindingFlags.NonPublic | BindingFlags.Static)!;
        object?[] none = [null];
        string floats = KernelCache.CreateKey(generic.MakeGenericMethod(typeof(float)), none, 90, 12040);
        string ints = KernelCache.CreateKey(generic.MakeGenericMethod(typeof(int)), none, 90, 12040);
        Assert.That(floats, Is.Not.EqualTo(ints));
        // a generic argument's build (e.g. a user's modifier struct, or one nested in a generic struct) is in the key
        string nested = KernelCache.CreateKey(generic.MakeGenericMethod(typeof(ValueTuple<Probe, int>)), none, 90, 12040);
        Assert.That(nested, Does.Contain("generic-module FlashAttn.Tests " + typeof(KernelCacheTests).Module.ModuleVersionId));

        string key = KernelCache.CreateKey(s_saxpy, Specs(4), 90, 12040);
        Assert.That(KernelCache.CreateKey(s_saxpy, Specs(4), 90, 12040), Is.EqualTo(key));
        Assert.That(KernelCache.CreateKey(s_saxpy, Specs(5), 90, 12040), Is.Not.EqualTo(key));
        Assert.That(KernelCache.CreateKey(s_saxpy, Specs(4), 89, 12040), Is.Not.EqualTo(key));
        Assert.That(KernelCache.CreateKey(s_saxpy, Specs(4), 90, 12080), Is.Not.EqualTo(key));
        Assert.That(KernelCache.CreateKey(s_saxpy, [null, null, null, 4L], 90, 12040), Is.Not.EqualTo(key), "the value's type is part of the key");
        Assert.That(KernelCache.CreateKey(s_saxpy, [null, null, null, 0.0f], 90, 12040),
            Is.Not.EqualTo(KernelCache.CreateKey(s_saxpy, [null, null, null, -0.0f], 90, 12040)), "floats are keyed by their bits");
        Assert.That(KernelCache.FileNameFor(key), Does.Match("^[0-9a-f]{64}\\.ptx$"));
    }

    [Test]
    public void DiskRoundTripSkipsTheCompiler()
    {
        var first = new KernelCache(NewCompiler(), _directory).GetOrCompile(s_saxpy, Specs(4), 90, 12040);
        string file = Path.Combine(_directory, KernelCache.FileNameFor(KernelCache.CreateKey(s_saxpy, Specs(4), 90, 12040)));
        Assert.That(File.Exists(file), Is.True);
        Assert.That(Directory.GetFiles(_directory), Has.Length.EqualTo(1), "no temporary files are left behind");
        Assert.That(File.ReadAllText(file), Does.EndWith(first.Ptx));

        var compiler = NewCompiler();
        var cache = new KernelCache(compiler, _directory);
        var loaded = cache.GetOrCompile(s_saxpy, Specs(4), 90, 12040);
        Assert.That(compiler.Calls, Is.Zero);
        Assert.That(cache.DiskHits, Is.EqualTo(1));
        Assert.That(loaded.EntryName, Is.EqualTo(first.EntryName));
        Assert.That(loaded.Ptx, Is.EqualTo(first.Ptx));
        Assert.That(loaded.StaticSharedBytes, Is.EqualTo(128));
        Assert.That(loaded.Slots, Has.Count.EqualTo(first.Slots.Count));
        for (int i = 0; i < first.Slots.Count; i++)
        {
            Assert.That(loaded.Slots[i].ArgumentIndex, Is.EqualTo(first.Slots[i].ArgumentIndex));
            Assert.That(loaded.Slots[i].FieldPath, Is.EqualTo(first.Slots[i].FieldPath));
            Assert.That(loaded.Slots[i].Type, Is.SameAs(first.Slots[i].Type));
        }
    }

    [TestCase("garbage")]
    [TestCase("")]
    [TestCase("truncate")]
    [TestCase("flip")]
    public void CorruptedFilesAreRecompiled(string damage)
    {
        new KernelCache(NewCompiler(), _directory).GetOrCompile(s_saxpy, Specs(4), 90, 12040);
        string file = Directory.GetFiles(_directory).Single();
        string good = File.ReadAllText(file);
        File.WriteAllText(file, damage switch
        {
            "garbage" => "not a cache file at all",
            "truncate" => good[..(good.Length - 5)],
            "flip" => good.Replace("unroll 4", "unroll 5"),
            _ => "",
        });

        var compiler = NewCompiler();
        var cache = new KernelCache(compiler, _directory);
        var kernel = cache.GetOrCompile(s_saxpy, Specs(4), 90, 12040);
        Assert.That(compiler.Calls, Is.EqualTo(1));
        Assert.That(kernel.Ptx, Does.Contain("unroll 4"));
        Assert.That(File.ReadAllText(file), Is.EqualTo(good), "the recompiled kernel replaced the damaged file");
    }

    [Test]
    public void CompilerFailuresAreNotCached()
    {
        int calls = 0;
        var cache = new KernelCache(new FakeKernelCompiler((m, s, _) =>
            ++calls == 1 ? throw new CompilationException("first attempt fails") : Compile(m, s)));
        Assert.Throws<CompilationException>(() => cache.GetOrCompile(s_saxpy, Specs(4), 90, 12040));
        Assert.That(cache.GetOrCompile(s_saxpy, Specs(4), 90, 12040).EntryName, Is.EqualTo("saxpy_entry"));
        Assert.That(calls, Is.EqualTo(2));
    }

    [Test]
    public void ConcurrentLookupsCompileOnce()
    {
        var compiler = new FakeKernelCompiler((m, s, _) =>
        {
            Thread.Sleep(50);
            return Compile(m, s);
        });
        var cache = new KernelCache(compiler, _directory);
        var results = new CompiledKernel[8];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 },
            i => results[i] = cache.GetOrCompile(s_saxpy, Specs(4), 90, 12040));
        Assert.That(compiler.Calls, Is.EqualTo(1));
        Assert.That(results.Distinct().Count(), Is.EqualTo(1));
    }

    [Test]
    public void UnwritableDirectoryOnlyCostsRecompilation()
    {
        File.WriteAllText(_directory, "a file where the cache directory should be");
        try
        {
            var compiler = NewCompiler();
            var kernel = new KernelCache(compiler, _directory).GetOrCompile(s_saxpy, Specs(4), 90, 12040);
            Assert.That(kernel.EntryName, Is.EqualTo("saxpy_entry"));
        }
        finally
        {
            File.Delete(_directory);
        }
    }

    [Test]
    public void TheDiskCacheIsOnByDefaultInTheUsersCacheFolder()
    {
        string root = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        Assume.That(root, Is.Not.Empty, "no per-user application data folder on this platform");
        string expected = Path.Combine(root, "flashattn", "kernels");
        Assert.Multiple(() =>
        {
            Assert.That(KernelCache.DirectoryFromSetting(null), Is.EqualTo(expected));
            Assert.That(KernelCache.DirectoryFromSetting("  "), Is.EqualTo(expected));
            Assert.That(KernelCache.DirectoryFromSetting("off"), Is.Null);
            Assert.That(KernelCache.DirectoryFromSetting("OFF "), Is.Null);
            Assert.That(KernelCache.DirectoryFromSetting(_directory), Is.EqualTo(_directory));
            Assert.That(new KernelCache(NewCompiler(), KernelCache.DirectoryFromSetting("off")).DiskDirectory, Is.Null);
        });
    }
}
