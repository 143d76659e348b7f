using System.Buffers.Binary;
using System.Reflection;
using FlashAttn.Compute;
using FlashAttn.Compute.Frontend;
using FlashAttn.Compute.IR;
using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Tests.Compute.Cuda;

public unsafe class KernelArgumentMarshallerTests
{
    private struct Inner
    {
        public short Small;
        public double Wide;
    }

    private struct Params
    {
        public ArrayView<float> Data;
        public int Count;
        public float Alpha;
        public byte Flag;
        public Inner Nested;
        public Half Scale;
        public bool Enabled;
        public long Big;
    }

    private enum Mode : short { Fast = -3 }

    private static void Kernel(Params p, int n, SpecializedValue<int> tile, sbyte negative, Mode mode, ArrayView<int> output) { }

    private static readonly MethodInfo s_kernel = typeof(KernelArgumentMarshallerTests).GetMethod(nameof(Kernel), BindingFlags.NonPublic | BindingFlags.Static)!;

    private static FieldInfo F<T>(string name) => typeof(T).GetField(name, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)!;

    private static readonly IRType Global = IRType.Pointer(AddressSpace.Global);

    private static KernelParameterSlot[] Slots() =>
    [
        new(0, [F<Params>("Data"), F<ArrayView<float>>("_pointer")], Global),   // 0: offset 0
        new(0, [F<Params>("Data"), F<ArrayView<float>>("_length")], IRType.Int64), // 8 (views' lengths are 64-bit)
        new(0, [F<Params>("Count")], IRType.Int32),                            // 16
        new(0, [F<Params>("Alpha")], IRType.Float32),                          // 20
        new(0, [F<Params>("Flag")], IRType.Int8),                              // 24
        new(0, [F<Params>("Nested"), F<Inner>("Small")], IRType.Int16),        // 28
        new(0, [F<Params>("Nested"), F<Inner>("Wide")], IRType.Float64),       // 32
        new(0, [F<Params>("Scale")], IRType.Float16),                          // 40
        new(0, [F<Params>("Enabled")], IRType.Bool),                           // 44
        new(0, [F<Params>("Big")], IRType.Int64),                              // 48
        new(1, [], IRType.Int32),                                              // 56
        // argument 2 is specialized: no slot
        new(3, [], IRType.Int8),                                               // 60
        new(4, [], IRType.Int16),                                              // 64
        new(5, [F<ArrayView<int>>("_pointer")], Global),                       // 72 (aligned from 68)
        new(5, [F<ArrayView<int>>("_length")], IRType.Int64),                  // 80
    ];

    private static object[] Arguments() =>
    [
        new Params
        {
            Data = new ArrayView<float>((float*)0x7f00_1234_5678, 1000),
            Count = -42,
            Alpha = 1.5f,
            Flag = 200,
            Nested = new Inner { Small = -2, Wide = Math.PI },
            Scale = (Half)0.25f,
            Enabled = true,
            Big = 0x1122_3344_5566_7788,
        },
        7,
        new SpecializedValue<int>(64),
        (sbyte)-1,
        Mode.Fast,
        new ArrayView<int>((int*)0xdead_beef_0000, 3),
    ];

    private static readonly int[] s_expectedOffsets = [0, 8, 16, 20, 24, 28, 32, 40, 44, 48, 56, 60, 64, 72, 80];

    [Test]
    public void LayoutAlignsEachScalarToItsCell()
    {
        var marshaller = new KernelArgumentMarshaller(s_kernel, Slots());
        Assert.That(marshaller.Offsets, Is.EqualTo(s_expectedOffsets));
        Assert.That(marshaller.Sizes, Is.EqualTo(new[] { 8, 8, 4, 4, 4, 4, 8, 4, 4, 8, 4, 4, 4, 8, 8 }));
        Assert.That(marshaller.BufferSize, Is.EqualTo(88));
        Assert.That(marshaller.SlotCount, Is.EqualTo(15));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void PacksValuesAtTheirOffsets(bool emit)
    {
        var marshaller = new KernelArgumentMarshaller(s_kernel, Slots(), emit);
        var buffer = new byte[marshaller.BufferSize];
        marshaller.Pack(Arguments(), buffer);

        Assert.Multiple(() =>
        {
            Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(0)), Is.EqualTo(0x7f00_1234_5678UL));
            Assert.That(BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(8)), Is.EqualTo(1000));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(16)), Is.EqualTo(-42));
            Assert.That(BinaryPrimitives.ReadSingleLittleEndian(buffer.AsSpan(20)), Is.EqualTo(1.5f));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(24)), Is.EqualTo(200), "byte zero-extends");
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(28)), Is.EqualTo(-2), "short sign-extends");
            Assert.That(BinaryPrimitives.ReadDoubleLittleEndian(buffer.AsSpan(32)), Is.EqualTo(Math.PI));
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(40)), Is.EqualTo(BitConverter.HalfToUInt16Bits((Half)0.25f)));
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(42)), Is.Zero, "above a half the cell stays zero");
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(44)), Is.EqualTo(1));
            Assert.That(BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(48)), Is.EqualTo(0x1122_3344_5566_7788));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(56)), Is.EqualTo(7));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(60)), Is.EqualTo(-1));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(64)), Is.EqualTo(-3), "enums marshal as their underlying type");
            Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(72)), Is.EqualTo(0xdead_beef_0000UL));
            Assert.That(BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(80)), Is.EqualTo(3));
        });
    }

    [Test]
    public void EmittedAndReflectionPathsAgree()
    {
        var marshaller = new KernelArgumentMarshaller(s_kernel, Slots());
        Assert.That(marshaller.IsCompiled, Is.True);
        var fast = new byte[marshaller.BufferSize];
        var slow = new byte[marshaller.BufferSize];
        marshaller.Pack(Arguments(), fast);
        marshaller.PackWithReflection(Arguments(), slow);
        Assert.That(fast, Is.EqualTo(slow));
    }

    [Test]
    public void ParameterPointersAddressEachCell()
    {
        var marshaller = new KernelArgumentMarshaller(s_kernel, Slots());
        var buffer = new byte[marshaller.BufferSize];
        var pointers = new nint[marshaller.SlotCount];
        fixed (byte* start = buffer)
        {
            marshaller.GetParameterPointers(start, pointers);
            nint origin = (nint)start;
            Assert.That(pointers.Select(p => (int)(p - origin)), Is.EqualTo(s_expectedOffsets));
        }
    }

    [Test]
    public void MismatchedSlotsAreRejected()
    {
        var wrongSize = new KernelParameterSlot[] { new(1, [], IRType.Int64) };
        Assert.That(() => new KernelArgumentMarshaller(s_kernel, wrongSize),
            Throws.InvalidOperationException.With.Message.Contains("Int32"));
        var badIndex = new KernelParameterSlot[] { new(9, [], IRType.Int32) };
        Assert.That(() => new KernelArgumentMarshaller(s_kernel, badIndex), Throws.InvalidOperationException);
        var wrongField = new KernelParameterSlot[] { new(1, [F<Params>("Count")], IRType.Int32) };
        Assert.That(() => new KernelArgumentMarshaller(s_kernel, wrongField), Throws.InvalidOperationException);
    }

    [Test]
    public void PackingIsFastEnoughForBenchmarks()
    {
        var marshaller = new KernelArgumentMarshaller(s_kernel, Slots());
        var arguments = Arguments();
        var buffer = new byte[marshaller.BufferSize];
        for (int i = 0; i < 1000; i++) marshaller.Pack(arguments, buffer);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        const int iterations = 100_000;
        for (int i = 0; i < iterations; i++) marshaller.Pack(arguments, buffer);
        double microseconds = watch.Elapsed.TotalMicroseconds / iterations;
        Assert.That(microseconds, Is.LessThan(5), $"{microseconds:F3} µs per pack of {marshaller.SlotCount} slots");
    }
}
