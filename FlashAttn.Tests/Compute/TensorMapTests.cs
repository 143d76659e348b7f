using System.Reflection;
using FlashAttn.Compute;
using FlashAttn.Compute.Backends.Ptx;
using FlashAttn.Compute.Frontend;
using FlashAttn.Compute.IR;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cpu;
using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Tests.Compute;

/// <summary>
/// Tensor maps and the tensor copies that read them, beyond the corpus's boxes (<c>TensorTileLoad_*</c>): the driver's rules
/// checked when a map is made, the map as a kernel's 128-byte parameter (frontend, PTX, marshalling, the kernel cache), a
/// map kept opaque in kernels, and the CPU's refusals.
/// </summary>
public unsafe class TensorMapTests
{
    private static readonly Half[] s_data = new Half[4096];

    private static TensorMap Map(ReadOnlySpan<long> dimensions, ReadOnlySpan<long> strides, ReadOnlySpan<int> box,
        SharedSwizzle swizzle = SharedSwizzle.None, long offset = 0, long length = 4096)
    {
        fixed (Half* data = s_data)
        {
            // the array's own alignment does not matter: the view starts at the first 16-byte-aligned element
            long skip = (16 - (long)data % 16) % 16 / 2;
            return TensorMap.Tiled(new ArrayView<Half>(data + skip + offset, length - skip - offset), dimensions, strides, box, swizzle);
        }
    }

    private static string ParameterOf(TestDelegate make) => Assert.Throws<ArgumentException>(make)!.ParamName!;

    [Test]
    public void TheDriversRulesAreCheckedWhenAMapIsMade()
    {
        Assert.That(ParameterOf(() => Map([], [], [])), Is.EqualTo("dimensions"));
        Assert.That(ParameterOf(() => Map([8, 8, 8, 8, 8, 8], [8, 64, 512, 4096, 32768], [8, 1, 1, 1, 1, 1])), Is.EqualTo("dimensions"));
        Assert.That(ParameterOf(() => Map([64, 8], [], [64, 8])), Is.EqualTo("strides"), "one stride per dimension past the first");
        Assert.That(ParameterOf(() => Map([64, 8], [64], [64])), Is.EqualTo("box"), "one side per dimension");
        Assert.That(ParameterOf(() => Map([64, 8], [60], [64, 8])), Is.EqualTo("strides"), "120 bytes is not a multiple of 16");
        Assert.That(ParameterOf(() => Map([64, 8], [64], [64, 257])), Is.EqualTo("box"));
        Assert.That(ParameterOf(() => Map([64, 8], [64], [4, 8])), Is.EqualTo("box"), "8 bytes: not a multiple of 16");
        Assert.That(ParameterOf(() => Map([64, 8], [64], [32, 8], SharedSwizzle.Bytes128)), Is.EqualTo("box"), "a 128-byte swizzle takes 128-byte rows");
        Assert.That(ParameterOf(() => Map([64, 80], [64], [64, 8])), Is.EqualTo("data"), "5120 elements are more than the view holds");
        Assert.That(ParameterOf(() => Map([64, 8], [64], [64, 8], offset: 1)), Is.EqualTo("data"), "2 bytes past 16-byte alignment");
        Assert.That(ParameterOf(() => TensorMap.Tiled(new ArrayView<char>(null, 0), [8], [], [8])), Is.EqualTo("data"), "no tensor maps of char");
    }

    [Test]
    public void AMapKeepsWhatTheDriverIsGiven()
    {
        var map = Map([56, 3, 20], [56, 168], [64, 1, 16], SharedSwizzle.Bytes128);
        Assert.That((map.Rank, map.ElementBytes, map.Element, map.Swizzle), Is.EqualTo((3, 2, TensorMapElement.Float16, SharedSwizzle.Bytes128)));
        Assert.That(new[] { map.ByteStride(0), map.ByteStride(1), map.ByteStride(2) }, Is.EqualTo(new long[] { 2, 112, 336 }));
        Assert.That(map.BoxBytes, Is.EqualTo(64 * 16 * 2));
        Assert.That(map.Address % 16, Is.Zero);
    }

    private static void CopyFirstBox(TensorMap map, ArrayView<float> output, SpecializedValue<int> offset)
    {
        var barrier = SharedMemory.Allocate<ulong>(1);
        var shared = SharedMemory.GetDynamic<float>();
        if (Group.IdxX == 0)
        {
            MBarrier.Init(ref barrier[0], 1);
            MBarrier.ArriveExpectTransaction(ref barrier[0], 128);
            TensorCopy.Load(ref shared[offset.Value], in map, 0, 0, ref barrier[0]);
        }
        output[0] = 1;
    }

    private static void CopyWithTooFewCoordinates(TensorMap map, ArrayView<float> output)
    {
        var barrier = SharedMemory.Allocate<ulong>(1);
        var shared = SharedMemory.GetDynamic<float>();
        MBarrier.Init(ref barrier[0], 1);
        TensorCopy.Load(ref shared[0], in map, 0, ref barrier[0]);
        output[0] = 1;
    }

    [Test]
    public void TheCpuRefusesAMisalignedDestinationAndTheWrongCoordinates()
    {
        using var cpu = new CpuAccelerator();
        using var input = cpu.Allocate<float>(64);
        using var output = cpu.Allocate<float>(1);
        var map = TensorMap.Tiled(input.View, [32, 2], [32], [32, 1]);
        var misaligned = Assert.Catch(() => cpu.LoadKernel((Action<TensorMap, ArrayView<float>, SpecializedValue<int>>)CopyFirstBox)
            .Launch(new LaunchConfig(1, 32, 2048), map, output.View, SpecializedValue.New(4)));
        Assert.That(misaligned!.ToString(), Does.Contain("128-byte aligned"));
        cpu.LoadKernel((Action<TensorMap, ArrayView<float>, SpecializedValue<int>>)CopyFirstBox)
            .Launch(new LaunchConfig(1, 32, 2048), map, output.View, SpecializedValue.New(0));
        Assert.That(output.ToArray(), Is.EqualTo(new[] { 1f }));
        var coordinates = Assert.Catch(() => cpu.LoadKernel((Action<TensorMap, ArrayView<float>>)CopyWithTooFewCoordinates)
            .Launch(new LaunchConfig(1, 1, 2048), map, output.View));
        Assert.That(coordinates!.ToString(), Does.Contain("takes 2 coordinates, not 1"));
    }

    private static MethodInfo Method(string name) => typeof(TensorMapTests).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)!;

    [Test]
    public void AMapIsOneBlockParameterOfTheKernel()
    {
        var entry = ILFrontend.BuildKernel(Method(nameof(CopyFirstBox)), [null, null, SpecializedValue.New(0)]);
        Assert.That(entry.Slots[0], Is.EqualTo(new KernelParameterSlot(0, [], IRType.GenericPointer, 128)).Using<KernelParameterSlot>(SameSlot));
        Assert.That(entry.Function.Parameters[0].ByValueBytes, Is.EqualTo(128));
        Assert.That(entry.Slots.Skip(1).All(slot => slot.ByValueBytes == 0));
        string ptx = KernelCompiler.Instance.Compile(Method(nameof(CopyFirstBox)), [null, null, SpecializedValue.New(0)], PtxTarget.Default).Ptx;
        Assert.That(ptx, Does.Match(@"\.param \.align 64 \.b8 \w+_param_0\[128\]"));
        Assert.That(ptx, Does.Contain("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"));
    }

    private static bool SameSlot(KernelParameterSlot a, KernelParameterSlot b)
        => a.ArgumentIndex == b.ArgumentIndex && a.FieldPath.SequenceEqual(b.FieldPath) && a.Type == b.Type && a.ByValueBytes == b.ByValueBytes;

    [Test]
    public void TheMarshallerGivesAMapItsOwnAlignedBlock()
    {
        var entry = ILFrontend.BuildKernel(Method(nameof(CopyWithTooFewCoordinates)), [null, null]);
        var marshaller = new KernelArgumentMarshaller(entry.Method, entry.Slots);
        Assert.That(marshaller.Sizes, Is.EqualTo(new[] { 128, 8, 8 }));
        Assert.That(marshaller.Offsets, Is.EqualTo(new[] { 0, 128, 136 }));
        var wrong = new KernelParameterSlot[] { new(1, [], IRType.GenericPointer, 128) };
        Assert.That(() => new KernelArgumentMarshaller(entry.Method, wrong), Throws.InvalidOperationException.With.Message.Contains("only a TensorMap"));
    }

    [Test]
    public void TheKernelCacheKeepsABlockSlot()
    {
        var method = Method(nameof(CopyWithTooFewCoordinates));
        var entry = ILFrontend.BuildKernel(method, [null, null]);
        var compiled = new CompiledKernel("entry", "// ptx\n", entry.Slots, 8);
        var back = KernelCache.Deserialize(KernelCache.Serialize("key", compiled), "key", method)!;
        Assert.That(back.Slots.Zip(entry.Slots).All(pair => SameSlot(pair.First, pair.Second)), Is.True);
        Assert.That(back.Slots[0].ByValueBytes, Is.EqualTo(128));
    }

    private static void ReadsTheMap(TensorMap map, ArrayView<int> output) => output[0] = map.Rank;

    private readonly record struct MapHolder(TensorMap Map, int Count);

    private static void TakesAHolder(MapHolder holder, ArrayView<int> output) => output[0] = holder.Count;

    [Test]
    public void KernelsKeepAMapOpaqueAndAtTheTopLevel()
    {
        var read = Assert.Throws<CompilationException>(() => ILFrontend.BuildKernel(Method(nameof(ReadsTheMap)), [null, null]))!;
        Assert.That(read.Message, Does.Contain("opaque"));
        var nested = Assert.Throws<CompilationException>(() => ILFrontend.BuildKernel(Method(nameof(TakesAHolder)), [null, null]))!;
        Assert.That(nested.Message, Does.Contain("pass each map as a parameter of its own"));
    }
}
