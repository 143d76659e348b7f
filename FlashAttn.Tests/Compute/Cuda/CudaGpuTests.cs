using System.Reflection;
using FlashAttn.Compute;
using FlashAttn.Compute.Backends.Ptx;
using FlashAttn.Compute.Frontend;
using FlashAttn.Compute.IR;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cuda;
using FlashAttn.Tests.Support;

namespace FlashAttn.Tests.Compute.Cuda;

/// <summary>Tests that need an NVIDIA GPU and driver; not generated elsewhere (<see cref="CudaOnly"/>).</summary>
[TestFixtureSource(typeof(CudaOnly), nameof(CudaOnly.Fixture))]
[Category("Gpu")]
[NonParallelizable]
public class CudaGpuTests
{
    private CudaAccelerator _accelerator = null!;

    // Each test calls this first: an Assume in [SetUp] does not stop the test body under this runner.
    private void RequireGpu()
    {
        Assume.That(CudaAccelerator.IsAvailable(), Is.True, "no CUDA device");
        _accelerator = new CudaAccelerator();
    }

    [TearDown]
    public void Close()
    {
        _accelerator?.Dispose();
        _accelerator = null!;
    }

    private static string Header(PtxTarget target) => $".version {target.IsaVersion}\n.target {target.TargetName}\n.address_size 64\n";

    /// <summary>c[i] = a[i] + b[i] for i &lt; n; parameters (u64 a, u64 b, u64 c, u32 n).</summary>
    private static string VectorAddPtx(PtxTarget target) => Header(target) + """
        .visible .entry vadd(
            .param .u64 pa,
            .param .u64 pb,
            .param .u64 pc,
            .param .u32 pn
        )
        {
            .reg .pred %p<2>;
            .reg .b32 %r<6>;
            .reg .f32 %f<4>;
            .reg .b64 %rd<10>;
            ld.param.u64 %rd1, [pa];
            ld.param.u64 %rd2, [pb];
            ld.param.u64 %rd3, [pc];
            ld.param.u32 %r1, [pn];
            mov.u32 %r2, %ctaid.x;
            mov.u32 %r3, %ntid.x;
            mov.u32 %r4, %tid.x;
            mad.lo.s32 %r5, %r2, %r3, %r4;
            setp.ge.s32 %p1, %r5, %r1;
            @%p1 bra DONE;
            cvta.to.global.u64 %rd4, %rd1;
            cvta.to.global.u64 %rd5, %rd2;
            cvta.to.global.u64 %rd6, %rd3;
            mul.wide.s32 %rd7, %r5, 4;
            add.s64 %rd8, %rd4, %rd7;
            ld.global.f32 %f1, [%rd8];
            add.s64 %rd8, %rd5, %rd7;
            ld.global.f32 %f2, [%rd8];
            add.f32 %f3, %f1, %f2;
            add.s64 %rd9, %rd6, %rd7;
            st.global.f32 [%rd9], %f3;
        DONE:
            ret;
        }
        """;

    [Test]
    public void InfoDescribesTheDevice()
    {
        RequireGpu();
        var info = _accelerator.Info;
        Assert.That(info.Name, Is.Not.Empty);
        Assert.That(info.WarpSize, Is.EqualTo(32));
        Assert.That(info.MaxGroupSize, Is.GreaterThanOrEqualTo(1024));
        Assert.That(info.MultiprocessorCount, Is.GreaterThan(0));
        Assert.That(info.ComputeCapability, Is.GreaterThanOrEqualTo(50));
        Assert.That(info.TotalMemory, Is.GreaterThan(1L << 30));
        Assert.That(_accelerator.DriverVersion, Is.GreaterThanOrEqualTo(11000));
        Assert.That(_accelerator.Target, Is.EqualTo(PtxTarget.For(_accelerator.DriverVersion, info.ComputeCapability)));
        if (info.ComputeCapability >= 70) Assert.That(info.MaxSharedMemoryPerGroup, Is.GreaterThan(48 * 1024), "opt-in limit");
        TestContext.Out.WriteLine($"{_accelerator}: {info}");
    }

    [Test]
    public void CopyRoundTripAndAllocationTracking()
    {
        RequireGpu();
        var data = Enumerable.Range(0, 10_000).Select(i => i * 0.5f).ToArray();
        long before = _accelerator.AllocatedBytes;
        _accelerator.ResetPeakAllocatedBytes();
        using (var a = _accelerator.Allocate<float>(data.Length))
        using (var b = _accelerator.Allocate<float>(data.Length))
        {
            Assert.That(_accelerator.AllocatedBytes - before, Is.EqualTo(2 * 4 * data.Length));
            a.CopyFromHost(data);
            Assert.That(a.ToArray(), Is.EqualTo(data));
            b.CopyFrom(a);
            Assert.That(b.ToArray(), Is.EqualTo(data));
            var part = new float[10];
            b.CopyToHost(part, offset: 100);
            Assert.That(part, Is.EqualTo(data[100..110]));
            b.CopyFromHost(new float[] { -1, -2 }, offset: 5);
            Assert.That(b.ToArray()[4..8], Is.EqualTo(new float[] { data[4], -1, -2, data[7] }));
        }
        Assert.That(_accelerator.AllocatedBytes, Is.EqualTo(before));
        Assert.That(_accelerator.PeakAllocatedBytes - before, Is.EqualTo(2 * 4 * data.Length));
        using var empty = _accelerator.Allocate<int>(0);
        Assert.That(empty.ToArray(), Is.Empty);
    }

    [Test]
    public void MemSetFillsEveryByte()
    {
        RequireGpu();
        using var buffer = _accelerator.Allocate<uint>(1000);
        buffer.MemSet(0xAB);
        Assert.That(buffer.ToArray(), Is.All.EqualTo(0xABABABABu));
    }

    [Test]
    public void HugeAllocationReportsSizeAndFreeMemory()
    {
        RequireGpu();
        var error = Assert.Throws<OutOfMemoryException>(() => _accelerator.Allocate<byte>(1L << 50));
        Assert.That(error!.Message, Does.Contain((1L << 50).ToString()));
        Assert.That(error.Message, Does.Contain("free"));
        Assert.That(_accelerator.GetMemoryInfo().Free, Is.GreaterThan(0));
    }

    [Test]
    public void EventsMeasureElapsedTime()
    {
        RequireGpu();
        using var start = _accelerator.CreateEvent();
        using var end = _accelerator.CreateEvent();
        using var buffer = _accelerator.Allocate<byte>(64 << 20);
        start.Record();
        for (int i = 0; i < 10; i++) buffer.MemSet((byte)i);
        end.Record();
        end.Synchronize();
        float ms = CudaEvent.ElapsedMilliseconds(start, end);
        Assert.That(ms, Is.GreaterThan(0).And.LessThan(10_000));
    }

    [Test]
    public void StreamsQueueWorkAndSynchronize()
    {
        RequireGpu();
        using var stream = _accelerator.CreateStream();
        _accelerator.Stream = stream;
        using var evt = _accelerator.CreateEvent();
        evt.Record();
        stream.Synchronize();
        _accelerator.Synchronize();
        stream.Dispose();
        Assert.That(_accelerator.Stream, Is.SameAs(_accelerator.DefaultStream));
    }

    [Test]
    public unsafe void CachedBuffersStayOnTheStreamTheyWereGivenBackOn()
    {
        RequireGpu();
        using var other = _accelerator.CreateStream();
        nint first;
        using (var rented = _accelerator.Cache.Rent<float>(1024)) first = (nint)rented.View.Pointer;
        _accelerator.Stream = other;
        using (var elsewhere = _accelerator.Cache.Rent<float>(1024))
            Assert.That((nint)elsewhere.View.Pointer, Is.Not.EqualTo(first), "another stream's work could still use it");
        _accelerator.Stream = _accelerator.DefaultStream;
        using var again = _accelerator.Cache.Rent<float>(1024);
        Assert.That((nint)again.View.Pointer, Is.EqualTo(first), "the same stream reuses it");
    }

    [Test]
    public void HandWrittenPtxLoadsAndRuns()
    {
        RequireGpu();
        const int n = 1000;
        var a = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        var b = Enumerable.Range(0, n).Select(i => 2f * i).ToArray();
        using var module = _accelerator.LoadModule(VectorAddPtx(_accelerator.Target), "vadd");
        var function = module.GetFunction("vadd");
        var attributes = function.GetAttributes();
        Assert.That(attributes.RegistersPerThread, Is.GreaterThan(0));
        Assert.That(attributes.HasNoSpills, Is.True);
        Assert.That(function.MaxActiveGroupsPerMultiprocessor(256), Is.GreaterThan(0));

        using var da = _accelerator.Allocate<float>(n);
        using var db = _accelerator.Allocate<float>(n);
        using var dc = _accelerator.Allocate<float>(n);
        da.CopyFromHost(a);
        db.CopyFromHost(b);
        unsafe
        {
            ulong pa = ((CudaMemoryBuffer<float>)da).DevicePointer, pb = ((CudaMemoryBuffer<float>)db).DevicePointer,
                pc = ((CudaMemoryBuffer<float>)dc).DevicePointer;
            uint count = n;
            function.Launch(new LaunchConfig((n + 255) / 256, 256), [(nint)(&pa), (nint)(&pb), (nint)(&pc), (nint)(&count)]);
        }
        _accelerator.Synchronize();
        Assert.That(dc.ToArray(), Is.EqualTo(a.Zip(b, (x, y) => x + y).ToArray()));
        Assert.That(() => module.GetFunction("missing"), Throws.TypeOf<CudaException>().With.Property(nameof(CudaException.Result)).EqualTo(CudaResult.NotFound));
    }

    [Test]
    public void AnAdoptedContextRunsOnItsStreamOnMemoryOfItsOwnerAndIsLeftAlive()
    {
        RequireGpu();
        const int n = 513;
        var a = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        using var stream = _accelerator.CreateStream();
        using var da = _accelerator.Allocate<float>(n);
        using var dc = _accelerator.Allocate<float>(n);
        da.CopyFromHost(a);
        using (var adopted = CudaAccelerator.Adopt(_accelerator.Context, stream.Handle))
        {
            Assert.That(adopted.IsAdopted && !_accelerator.IsAdopted);
            Assert.That(adopted.Stream.Handle, Is.EqualTo(stream.Handle));
            using var module = adopted.LoadModule(VectorAddPtx(adopted.Target), "vadd");
            unsafe
            {
                ulong pa = ((CudaMemoryBuffer<float>)da).DevicePointer, pc = ((CudaMemoryBuffer<float>)dc).DevicePointer;
                uint count = n;
                module.GetFunction("vadd").Launch(new LaunchConfig((n + 255) / 256, 256), [(nint)(&pa), (nint)(&pa), (nint)(&pc), (nint)(&count)]);
            }
            stream.Synchronize();
        }
        Assert.That(dc.ToArray(), Is.EqualTo(a.Select(x => 2 * x).ToArray()), "the owner's memory, written by the adopted context's kernel");
        using var more = _accelerator.Allocate<float>(n); // the context outlives the adopted accelerator
        more.CopyFromHost(a);
        Assert.That(more.ToArray(), Is.EqualTo(a));
    }

    [Test]
    public void BrokenPtxThrowsWithTheJitLog()
    {
        RequireGpu();
        string ptx = Header(_accelerator.Target) + """
            .visible .entry broken()
            {
                mov.u32 %r_undeclared, 1;
                ret;
            }
            """;
        var error = Assert.Throws<CudaException>(() => _accelerator.LoadModule(ptx, "broken"));
        Assert.That(error!.Call, Is.EqualTo("cuModuleLoadDataEx"));
        Assert.That(error.KernelName, Is.EqualTo("broken"));
        Assert.That(error.JitLog, Is.Not.Null.And.Not.Empty);
        Assert.That(error.Message, Does.Contain("JIT log:"));
        Assert.That(error.Message, Does.Contain("r_undeclared"));
        TestContext.Out.WriteLine(error.Message);
    }

    [Test]
    public void MoreThan48KilobytesOfDynamicSharedMemory()
    {
        RequireGpu();
        Assume.That(_accelerator.Info.MaxSharedMemoryPerGroup, Is.GreaterThanOrEqualTo(64 * 1024));
        // Thread t stores t at byte 60000 + 4t of dynamic shared memory, then reads its neighbour's value.
        string ptx = Header(_accelerator.Target) + """
            .extern .shared .align 16 .b8 dyn[];
            .visible .entry big_shared(.param .u64 pout)
            {
                .reg .b32 %r<8>;
                .reg .b64 %rd<4>;
                ld.param.u64 %rd1, [pout];
                cvta.to.global.u64 %rd1, %rd1;
                mov.u32 %r1, %tid.x;
                mov.u32 %r2, dyn;
                shl.b32 %r3, %r1, 2;
                add.s32 %r4, %r2, %r3;
                st.shared.u32 [%r4+60000], %r1;
                bar.sync 0;
                add.s32 %r5, %r1, 1;
                and.b32 %r5, %r5, 255;
                shl.b32 %r6, %r5, 2;
                add.s32 %r6, %r2, %r6;
                ld.shared.u32 %r7, [%r6+60000];
                mul.wide.u32 %rd2, %r1, 4;
                add.s64 %rd3, %rd1, %rd2;
                st.global.u32 [%rd3], %r7;
                ret;
            }
            """;
        using var module = _accelerator.LoadModule(ptx, "big_shared");
        var function = module.GetFunction("big_shared");
        using var output = _accelerator.Allocate<int>(256);
        unsafe
        {
            ulong pointer = ((CudaMemoryBuffer<int>)output).DevicePointer;
            function.Launch(new LaunchConfig(1, 256, 64 * 1024), [(nint)(&pointer)]);
        }
        _accelerator.Synchronize();
        Assert.That(output.ToArray(), Is.EqualTo(Enumerable.Range(0, 256).Select(i => (i + 1) % 256).ToArray()));
        Assert.That(function.GetAttributes().MaxDynamicSharedBytes, Is.GreaterThanOrEqualTo(64 * 1024));
    }

    private static void VectorAdd(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, SpecializedValue<int> scale) { }

    [Test]
    public void KernelsCompileThroughTheCacheAndMarshalViews()
    {
        RequireGpu();
        // A fake compiler returns hand-written PTX computing c = scale·(a + b), scale compiled in.
        var view = typeof(ArrayView<float>);
        var pointer = view.GetField("_pointer", BindingFlags.Instance | BindingFlags.NonPublic)!;
        var length = view.GetField("_length", BindingFlags.Instance | BindingFlags.NonPublic)!;
        var compiler = new FakeKernelCompiler((method, specs, target) =>
        {
            int scale = (int)specs[3]!;
            string ptx = Header(target) + $$"""
                .visible .entry vadd_scaled(
                    .param .u64 pa, .param .u64 la,
                    .param .u64 pb, .param .u64 lb,
                    .param .u64 pc, .param .u64 lc)
                {
                    .reg .pred %p<2>;
                    .reg .b32 %r<6>;
                    .reg .f32 %f<5>;
                    .reg .b64 %rd<11>;
                    ld.param.u64 %rd1, [pa];
                    ld.param.u64 %rd2, [pb];
                    ld.param.u64 %rd3, [pc];
                    ld.param.u64 %rd10, [lc];
                    cvt.u32.u64 %r1, %rd10;
                    mov.u32 %r2, %ctaid.x;
                    mov.u32 %r3, %ntid.x;
                    mov.u32 %r4, %tid.x;
                    mad.lo.s32 %r5, %r2, %r3, %r4;
                    setp.ge.s32 %p1, %r5, %r1;
                    @%p1 bra DONE;
                    cvta.to.global.u64 %rd4, %rd1;
                    cvta.to.global.u64 %rd5, %rd2;
                    cvta.to.global.u64 %rd6, %rd3;
                    mul.wide.s32 %rd7, %r5, 4;
                    add.s64 %rd8, %rd4, %rd7;
                    ld.global.f32 %f1, [%rd8];
                    add.s64 %rd8, %rd5, %rd7;
                    ld.global.f32 %f2, [%rd8];
                    add.f32 %f3, %f1, %f2;
                    mul.f32 %f4, %f3, 0f{{BitConverter.SingleToUInt32Bits(scale):X8}};
                    add.s64 %rd9, %rd6, %rd7;
                    st.global.f32 [%rd9], %f4;
                DONE:
                    ret;
                }
                """;
            KernelParameterSlot[] slots =
            [
                new(0, [pointer], IRType.Pointer(AddressSpace.Global)), new(0, [length], IRType.Int64),
                new(1, [pointer], IRType.Pointer(AddressSpace.Global)), new(1, [length], IRType.Int64),
                new(2, [pointer], IRType.Pointer(AddressSpace.Global)), new(2, [length], IRType.Int64),
            ];
            return new CompiledKernel("vadd_scaled", ptx, slots, 0);
        });
        _accelerator.Dispose();
        _accelerator = new CudaAccelerator(0, new KernelCache(compiler));

        const int n = 777;
        var a = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        var b = Enumerable.Range(0, n).Select(i => 1f).ToArray();
        using var da = _accelerator.Allocate<float>(n);
        using var db = _accelerator.Allocate<float>(n);
        using var dc = _accelerator.Allocate<float>(n);
        da.CopyFromHost(a);
        db.CopyFromHost(b);
        var kernel = (CudaKernel)_accelerator.LoadKernel(VectorAdd);
        foreach (int scale in new[] { 2, 3, 2 })
        {
            kernel.Launch((n + 127) / 128, 128, da.View, db.View, dc.View, SpecializedValue.New(scale));
            Assert.That(dc.ToArray(), Is.EqualTo(a.Select(x => scale * (x + 1)).ToArray()));
        }
        Assert.That(compiler.Calls, Is.EqualTo(2), "one compilation per specialization value");
        Assert.That(kernel.GetFunction(null!, null!, null!, SpecializedValue.New(2)).GetAttributes().HasNoSpills, Is.True);
    }
}
