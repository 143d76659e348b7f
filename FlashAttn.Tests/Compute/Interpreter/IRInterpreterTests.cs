using System.Reflection;
using FlashAttn.Compute;
using FlashAttn.Compute.Frontend;
using FlashAttn.Compute.Interpreter;
using FlashAttn.Compute.IR;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Tests.Compute.Interpreter;

public class IRInterpreterTests
{
    private static readonly IRType GlobalPtr = IRType.Pointer(AddressSpace.Global);
    private CpuAccelerator _accelerator = null!;

    [OneTimeSetUp]
    public void Create() => _accelerator = new CpuAccelerator();

    [OneTimeTearDown]
    public void Destroy() => _accelerator.Dispose();

    private static (Function Function, IRBuilder Builder) NewKernel(string name, params IRType[] parameters)
    {
        var function = new Function(name, IRType.Void) { IsKernel = true };
        foreach (var type in parameters) function.AddParameter(type);
        return (function, new IRBuilder(function.AddBlock("entry")));
    }

    private static Value GlobalIndex(IRBuilder b)
        => b.Add(b.Mul(b.Intrinsic(IntrinsicOp.GroupIdxX, IRType.Int32), b.Intrinsic(IntrinsicOp.GroupDimX, IRType.Int32)),
                 b.Intrinsic(IntrinsicOp.ThreadIdxX, IRType.Int32));

    private static Value Element(IRBuilder b, Value pointer, Value index32, int size)
        => b.PtrAdd(pointer, b.Mul(b.Convert(IRType.Int64, index32), Constant.I64(size)));

    private MemoryBuffer<T> Upload<T>(T[] data) where T : unmanaged
    {
        var buffer = _accelerator.Allocate<T>(data.Length);
        buffer.CopyFromHost(data);
        return buffer;
    }

    private static unsafe long Address<T>(MemoryBuffer<T> buffer) where T : unmanaged => (long)buffer.View.Pointer;

    private static float[] RandomFloats(int n, int seed) { var r = new Random(seed); return [.. Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 4 - 2) + 0.01f)]; }

    [Test]
    public void VectorAdd()
    {
        var (kernel, b) = NewKernel("vadd", GlobalPtr, GlobalPtr, GlobalPtr, IRType.Int32);
        var body = kernel.AddBlock("body");
        var exit = kernel.AddBlock("exit");
        var i = GlobalIndex(b);
        b.CondBr(b.Cmp(CompareKind.Lt, i, kernel.Parameters[3]), body, exit);
        b.Block = body;
        var sum = b.Add(b.Load(IRType.Float32, Element(b, kernel.Parameters[0], i, 4)), b.Load(IRType.Float32, Element(b, kernel.Parameters[1], i, 4)));
        b.Store(Element(b, kernel.Parameters[2], i, 4), sum);
        b.Br(exit);
        b.Block = exit;
        b.Ret();

        const int n = 300;
        float[] x = RandomFloats(n, 1), y = RandomFloats(n, 2);
        using var dx = Upload(x);
        using var dy = Upload(y);
        using var dz = _accelerator.Allocate<float>(n);
        IRInterpreter.Launch(kernel, new LaunchConfig(3, 128), [Address(dx), (nint)Address(dy), Address(dz), n]);
        Assert.That(dz.ToArray(), Is.EqualTo(x.Zip(y, (p, q) => p + q).ToArray()));
    }

    // Each thread runs (a, b) ← (b, a + b) count times from (seed, seed + 1): the two phis swap, which only
    // works when phis are copied all at once.
    [Test]
    public void LoopWithSwappingPhis()
    {
        var (kernel, b) = NewKernel("fib", GlobalPtr, GlobalPtr, IRType.Int32);
        var loop = kernel.AddBlock("loop");
        var exit = kernel.AddBlock("exit");
        var entry = b.Block;
        var t = GlobalIndex(b);
        var seed = b.Load(IRType.Int32, Element(b, kernel.Parameters[0], t, 4));
        var seed1 = b.Add(seed, Constant.I32(1));
        b.Br(loop);
        b.Block = loop;
        var k = b.Phi(IRType.Int32);
        var x = b.Phi(IRType.Int32);
        var y = b.Phi(IRType.Int32);
        var next = b.Add(x, y);
        var k1 = b.Add(k, Constant.I32(1));
        b.CondBr(b.Cmp(CompareKind.Lt, k1, kernel.Parameters[2]), loop, exit);
        AddIncoming(k, (Constant.I32(0), entry), (k1, loop));
        AddIncoming(x, (seed, entry), (y, loop));
        AddIncoming(y, (seed1, entry), (next, loop));
        b.Block = exit;
        b.Store(Element(b, kernel.Parameters[1], t, 4), next);
        b.Ret();

        const int n = 64, count = 20;
        var r = new Random(3);
        int[] seeds = [.. Enumerable.Range(0, n).Select(_ => r.Next(1, 1000))];
        using var ds = Upload(seeds);
        using var output = _accelerator.Allocate<int>(n);
        IRInterpreter.Launch(kernel, new LaunchConfig(2, 32), [Address(ds), Address(output), count]);
        int[] expected = [.. seeds.Select(s =>
        {
            int a = s, c = s + 1, last = 0;
            for (int j = 0; j < count; j++) { last = a + c; (a, c) = (c, last); }
            return last;
        })];
        Assert.That(output.ToArray(), Is.EqualTo(expected));
    }

    private static void AddIncoming(Instruction phi, params (Value Value, BasicBlock From)[] incoming)
    {
        foreach (var (value, from) in incoming)
        {
            phi.Operands.Add(value);
            phi.PhiBlocks.Add(from);
        }
    }

    // Reverses each group's slice through a static shared array and a barrier.
    [Test]
    public void SharedMemoryAndBarrier()
    {
        const int size = 128, groups = 3;
        var (kernel, b) = NewKernel("reverse", GlobalPtr, GlobalPtr);
        var shared = b.Intrinsic(IntrinsicOp.SharedAllocate, IRType.Pointer(AddressSpace.Shared), Constant.I32(size));
        shared.ElementType = IRType.Float32;
        var t = b.Intrinsic(IntrinsicOp.ThreadIdxX, IRType.Int32);
        var g = GlobalIndex(b);
        b.Store(Element(b, shared, t, 4), b.Load(IRType.Float32, Element(b, kernel.Parameters[0], g, 4)));
        b.Intrinsic(IntrinsicOp.Barrier, IRType.Void);
        var mirrored = b.Sub(Constant.I32(size - 1), t);
        b.Store(Element(b, kernel.Parameters[1], g, 4), b.Load(IRType.Float32, Element(b, shared, mirrored, 4)));
        b.Ret();

        float[] input = RandomFloats(size * groups, 4);
        using var di = Upload(input);
        using var output = _accelerator.Allocate<float>(size * groups);
        IRInterpreter.Launch(kernel, new LaunchConfig(groups, size), [Address(di), Address(output)]);
        var result = output.ToArray();
        for (int i = 0; i < input.Length; i++)
            Assert.That(result[i], Is.EqualTo(input[i / size * size + size - 1 - i % size]));
    }

    [Test]
    public void ShufflesOfFloats()
    {
        var (kernel, b) = NewKernel("shuffle", GlobalPtr, GlobalPtr, IRType.Int32);
        var t = GlobalIndex(b);
        var v = b.Load(IRType.Float32, Element(b, kernel.Parameters[0], t, 4));
        var bits = b.Intrinsic(IntrinsicOp.BitCast, IRType.Int32, v);
        var shuffled = b.Intrinsic(IntrinsicOp.ShuffleXor, IRType.Int32, bits, kernel.Parameters[2]);
        shuffled.ElementType = IRType.Int32;
        var down = b.Intrinsic(IntrinsicOp.ShuffleDown, IRType.Float32, v, Constant.I32(3));
        down.ElementType = IRType.Float32;
        var back = b.Intrinsic(IntrinsicOp.BitCast, IRType.Float32, shuffled);
        b.Store(Element(b, kernel.Parameters[1], t, 4), b.Add(back, b.Mul(down, Constant.F32(1000f))));
        b.Ret();

        const int n = 64, mask = 5;
        float[] input = RandomFloats(n, 5);
        using var di = Upload(input);
        using var output = _accelerator.Allocate<float>(n);
        IRInterpreter.Launch(kernel, new LaunchConfig(1, n), [Address(di), Address(output), mask]);
        var result = output.ToArray();
        for (int i = 0; i < n; i++)
        {
            int lane = i % 32, warp = i / 32 * 32;
            float downValue = lane + 3 < 32 ? input[warp + lane + 3] : input[i];
            Assert.That(result[i], Is.EqualTo(input[warp + (lane ^ mask)] + downValue * 1000f));
        }
    }

    [Test]
    public void Atomics()
    {
        var (kernel, b) = NewKernel("atomics", GlobalPtr, GlobalPtr, GlobalPtr, GlobalPtr);
        var t = GlobalIndex(b);
        var v = b.Load(IRType.Int32, Element(b, kernel.Parameters[0], t, 4));
        var add = b.Intrinsic(IntrinsicOp.AtomicAdd, IRType.Int32, kernel.Parameters[1], v);
        add.ElementType = IRType.Int32;
        var max = b.Intrinsic(IntrinsicOp.AtomicMax, IRType.Int32, b.PtrAdd(kernel.Parameters[1], Constant.I64(4)), v);
        max.ElementType = IRType.Int32;
        var fadd = b.Intrinsic(IntrinsicOp.AtomicAdd, IRType.Float32, kernel.Parameters[2], Constant.F32(0.5f));
        fadd.ElementType = IRType.Float32;
        // CAS loop incrementing parameter 3.
        var loop = kernel.AddBlock("cas");
        var done = kernel.AddBlock("done");
        var entry = b.Block;
        var first = b.Load(IRType.Int32, kernel.Parameters[3]);
        b.Br(loop);
        b.Block = loop;
        var seen = b.Phi(IRType.Int32);
        var old = b.Intrinsic(IntrinsicOp.AtomicCompareExchange, IRType.Int32, kernel.Parameters[3], seen, b.Add(seen, Constant.I32(1)));
        old.ElementType = IRType.Int32;
        b.CondBr(b.Cmp(CompareKind.Eq, old, seen), done, loop);
        AddIncoming(seen, (first, entry), (old, loop));
        b.Block = done;
        b.Ret();

        const int groups = 4, size = 64, n = groups * size;
        var r = new Random(6);
        int[] values = [.. Enumerable.Range(0, n).Select(_ => r.Next(-5000, 5000))];
        using var dv = Upload(values);
        using var counters = Upload(new[] { 0, int.MinValue });
        using var floatSum = Upload(new[] { 1f });
        using var cas = Upload(new[] { 7 });
        IRInterpreter.Launch(kernel, new LaunchConfig(groups, size), [Address(dv), Address(counters), Address(floatSum), Address(cas)]);
        Assert.That(counters.ToArray(), Is.EqualTo(new[] { values.Sum(), values.Max() }));
        Assert.That(floatSum.ToArray()[0], Is.EqualTo(1f + n * 0.5f));
        Assert.That(cas.ToArray()[0], Is.EqualTo(7 + n));
    }

    [Test]
    public void MathConversionsAndLocalMemory()
    {
        // out[t] = (float)(int)(exp2(x) * 3.7) + fma(x, x, 1) via a local slot, and a half round trip.
        var (kernel, b) = NewKernel("math", GlobalPtr, GlobalPtr, GlobalPtr);
        var slot = b.Alloca(8, 8);
        var t = GlobalIndex(b);
        var x = b.Load(IRType.Float32, Element(b, kernel.Parameters[0], t, 4));
        var e = b.Intrinsic(IntrinsicOp.FastExp2, IRType.Float32, x);
        var truncated = b.Convert(IRType.Float32, b.Convert(IRType.Int32, b.Mul(e, Constant.F32(3.7f))));
        b.Store(slot, truncated);
        var local = b.Intrinsic(IntrinsicOp.LocalAllocate, IRType.Pointer(AddressSpace.Local), Constant.I32(4));
        local.ElementType = IRType.Float32;
        b.Store(b.PtrAdd(local, Constant.I64(12)), b.Intrinsic(IntrinsicOp.Fma, IRType.Float32, x, x, Constant.F32(1f)));
        var sum = b.Add(b.Load(IRType.Float32, slot), b.Load(IRType.Float32, b.PtrAdd(local, Constant.I64(12))));
        b.Store(Element(b, kernel.Parameters[1], t, 4), sum);
        var half = b.Intrinsic(IntrinsicOp.FloatToHalf, IRType.Float16, x);
        var wide = b.Convert(IRType.Float64, half);
        b.Store(Element(b, kernel.Parameters[2], t, 8), b.Mul(wide, Constant.FloatOf(IRType.Float64, 2.0)));
        b.Ret();

        const int n = 64;
        float[] input = RandomFloats(n, 7);
        using var di = Upload(input);
        using var output = _accelerator.Allocate<float>(n);
        using var doubles = _accelerator.Allocate<double>(n);
        IRInterpreter.Launch(kernel, new LaunchConfig(2, 32), [Address(di), Address(output), Address(doubles)]);
        float[] expected = [.. input.Select(v => (float)(int)(MathF.Pow(2f, v) * 3.7f) + MathF.FusedMultiplyAdd(v, v, 1f))];
        Assert.That(output.ToArray(), Is.EqualTo(expected));
        Assert.That(doubles.ToArray(), Is.EqualTo(input.Select(v => (double)(Half)v * 2.0).ToArray()));
    }

    [TestCase(Opcode.Add, int.MaxValue, 1, int.MinValue)]
    [TestCase(Opcode.Mul, 0x10000, 0x10000, 0)]
    [TestCase(Opcode.Shl, 1, 33, 2)]
    [TestCase(Opcode.Shr, -8, 1, -4)]
    [TestCase(Opcode.ShrUn, -8, 1, 0x7FFFFFFC)]
    [TestCase(Opcode.Div, -7, 2, -3)]
    [TestCase(Opcode.DivUn, -2, 2, 0x7FFFFFFF)]
    [TestCase(Opcode.Rem, -7, 2, -1)]
    [TestCase(Opcode.RemUn, -1, 10, 5)]
    public void Int32Semantics(Opcode op, int a, int b, int expected)
        => Assert.That(ScalarOps.Binary(op, TypeKind.Int32)(a, b), Is.EqualTo(expected));

    [Test]
    public void NarrowIntegersConversionsAndComparisons()
    {
        Assert.That(ScalarOps.Binary(Opcode.Add, TypeKind.Int8)(127, 1), Is.EqualTo(-128));
        Assert.That(ScalarOps.Binary(Opcode.ShrUn, TypeKind.Int16)(-2, 1), Is.EqualTo(0x7FFF));
        Assert.That(ScalarOps.Convert(TypeKind.Int32, TypeKind.Int64, unsigned: true)(-1), Is.EqualTo(0xFFFF_FFFFL));
        Assert.That(ScalarOps.Convert(TypeKind.Int32, TypeKind.Int64, unsigned: false)(-1), Is.EqualTo(-1L));
        Assert.That(ScalarOps.Convert(TypeKind.Int64, TypeKind.Int8, unsigned: false)(0x1FF), Is.EqualTo(-1));
        Assert.That(RegisterEncoding.F32(ScalarOps.Convert(TypeKind.Int32, TypeKind.Float32, unsigned: true)(-1)), Is.EqualTo(4294967296f));
        Assert.That(ScalarOps.Convert(TypeKind.Float32, TypeKind.Int32, unsigned: false)(RegisterEncoding.FromF32(-2.9f)), Is.EqualTo(-2));
        Assert.That(ScalarOps.Convert(TypeKind.Bool, TypeKind.Int32, unsigned: false)(1), Is.EqualTo(1));
        long nan = RegisterEncoding.FromF32(float.NaN), one = RegisterEncoding.FromF32(1f);
        Assert.That(ScalarOps.Compare(CompareKind.Lt, TypeKind.Float32)(nan, one), Is.False);
        Assert.That(ScalarOps.Compare(CompareKind.LtUn, TypeKind.Float32)(nan, one), Is.True);
        Assert.That(ScalarOps.Compare(CompareKind.Ne, TypeKind.Float32)(nan, nan), Is.True);
        Assert.That(ScalarOps.Compare(CompareKind.Eq, TypeKind.Float32)(nan, nan), Is.False);
        Assert.That(ScalarOps.Compare(CompareKind.LtUn, TypeKind.Int32)(1, -1), Is.True);
        Assert.That(ScalarOps.Compare(CompareKind.Lt, TypeKind.Int32)(1, -1), Is.False);
        // f32 arithmetic stays in float precision.
        long third = ScalarOps.Binary(Opcode.Div, TypeKind.Float32)(one, RegisterEncoding.FromF32(3f));
        Assert.That(RegisterEncoding.F32(third), Is.EqualTo(1f / 3f));
        long h = RegisterEncoding.FromF16((Half)1.5f);
        Assert.That((float)RegisterEncoding.F16(ScalarOps.Binary(Opcode.Mul, TypeKind.Float16)(h, h)), Is.EqualTo(2.25f));
    }

    // A helper function called (not inlined) from the kernel, plus BarrierPopCount and dynamic shared memory.
    [Test]
    public void CallsBarrierPopCountAndDynamicSharedMemory()
    {
        var square = new Function("square_plus", IRType.Int32);
        var sp = new IRBuilder(square.AddBlock("entry"));
        var arg = square.AddParameter(IRType.Int32);
        sp.Ret(sp.Add(sp.Mul(arg, arg), Constant.I32(3)));

        var (kernel, b) = NewKernel("calls", GlobalPtr, GlobalPtr);
        var t = b.Intrinsic(IntrinsicOp.ThreadIdxX, IRType.Int32);
        var g = GlobalIndex(b);
        var v = b.Load(IRType.Int32, Element(b, kernel.Parameters[0], g, 4));
        var dynamic = b.Intrinsic(IntrinsicOp.SharedDynamic, IRType.Pointer(AddressSpace.Shared));
        var bytes = b.Intrinsic(IntrinsicOp.SharedDynamic, IRType.Int32);
        b.Store(Element(b, dynamic, t, 4), b.Call(square, v));
        var count = b.Intrinsic(IntrinsicOp.BarrierPopCount, IRType.Int32, b.Cmp(CompareKind.Gt, v, Constant.I32(0)));
        var neighbour = b.Load(IRType.Int32, Element(b, dynamic, b.Binary(Opcode.Xor, t, Constant.I32(1)), 4));
        b.Store(Element(b, kernel.Parameters[1], g, 4), b.Add(b.Add(neighbour, b.Mul(count, Constant.I32(100_000))), b.Mul(bytes, Constant.I32(1_000_000))));
        b.Ret();

        const int size = 64, groups = 2;
        var r = new Random(9);
        int[] input = [.. Enumerable.Range(0, size * groups).Select(_ => r.Next(-30, 30))];
        using var di = Upload(input);
        using var output = _accelerator.Allocate<int>(size * groups);
        IRInterpreter.Launch(kernel, new LaunchConfig(groups, size, size * 4), [Address(di), Address(output)]);
        var result = output.ToArray();
        for (int i = 0; i < input.Length; i++)
        {
            int n = input[i ^ 1], positives = input.Skip(i / size * size).Take(size).Count(x => x > 0);
            Assert.That(result[i], Is.EqualTo(n * n + 3 + positives * 100_000 + size * 4 * 1_000_000));
        }
    }

    [Test]
    public void UnknownIntrinsicIsNamed()
    {
        var (kernel, b) = NewKernel("bad");
        b.Intrinsic((IntrinsicOp)999, IRType.Void);
        b.Ret();
        var failure = Assert.Throws<InvalidOperationException>(() => IRInterpreter.Launch(kernel, new LaunchConfig(1, 1), []));
        Assert.That(failure!.Message, Does.Contain("999"));
    }

    [Test]
    public void EarlyReturnBeforeBarrierFails()
    {
        var (kernel, b) = NewKernel("early");
        var leave = kernel.AddBlock("leave");
        var wait = kernel.AddBlock("wait");
        b.CondBr(b.Cmp(CompareKind.Eq, b.Intrinsic(IntrinsicOp.ThreadIdxX, IRType.Int32), Constant.I32(3)), leave, wait);
        b.Block = leave;
        b.Ret();
        b.Block = wait;
        b.Intrinsic(IntrinsicOp.Barrier, IRType.Void);
        b.Ret();
        var task = Task.Run(() => IRInterpreter.Launch(kernel, new LaunchConfig(2, 32), []));
        Assert.That(((IAsyncResult)task).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(20)), Is.True, "the launch hung");
        Assert.That(task.Exception?.InnerException, Is.TypeOf<InvalidOperationException>());
    }

    private struct Pair
    {
        public ArrayView<float> Values;
        public int Count;
    }

    private static void PairKernel(Pair pair, float scale) { }

    [Test]
    public unsafe void ArgumentsAreFlattenedThroughSlots()
    {
        using var buffer = Upload(RandomFloats(8, 8));
        var method = typeof(IRInterpreterTests).GetMethod(nameof(PairKernel), BindingFlags.NonPublic | BindingFlags.Static)!;
        var values = typeof(Pair).GetField(nameof(Pair.Values))!;
        var count = typeof(Pair).GetField(nameof(Pair.Count))!;
        var pointer = typeof(ArrayView<float>).GetField("_pointer", BindingFlags.NonPublic | BindingFlags.Instance)!;
        var length = typeof(ArrayView<float>).GetField("_length", BindingFlags.NonPublic | BindingFlags.Instance)!;
        var (kernel, _) = NewKernel("pair", GlobalPtr, IRType.Int64, IRType.Int32, IRType.Float32);
        var entry = new KernelEntry(method, kernel,
        [
            new KernelParameterSlot(0, [values, pointer], GlobalPtr),
            new KernelParameterSlot(0, [values, length], IRType.Int64),
            new KernelParameterSlot(0, [count], IRType.Int32),
            new KernelParameterSlot(1, [], IRType.Float32),
        ]);
        var flat = IRInterpreter.FlattenArguments(entry, [new Pair { Values = buffer.View, Count = 42 }, 2.5f]);
        Assert.That(flat, Is.EqualTo(new object[] { (long)buffer.View.Pointer, 8L, 42, 2.5f }));
    }
}
