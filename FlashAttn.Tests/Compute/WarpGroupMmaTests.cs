using System.Reflection;
using FlashAttn.Compute;
using FlashAttn.Compute.Backends.Ptx;
using FlashAttn.Compute.Frontend;

namespace FlashAttn.Tests.Compute;

/// <summary>
/// The warpgroup MMA's lowering (<c>wgmma</c>, sm_90a) and the register arrays it takes: shapes from the accumulator type,
/// the module's target, refusals elsewhere, chained products without copies, and the descriptor's bit fields. Its CPU
/// meaning against fp64 is the corpus's <c>WarpGroupProduct</c> cases, in every swizzle.
/// </summary>
public class WarpGroupMmaTests
{
    // two products into one accumulator tile of each width: the first overwrites, the second accumulates
    private static void ProductN32(ArrayView<float> output, ulong a, ulong b)
    {
        WarpGroupMma.Fence();
        var d = WarpGroupMma.MultiplyAddF16(a, b, false, default(Floats16));
        d = WarpGroupMma.MultiplyAddF16(a + 2, b + 2, true, d);
        WarpGroupMma.Commit();
        WarpGroupMma.Wait(0);
        for (int i = 0; i < Floats16.Length; i++) output[Group.IdxX * Floats16.Length + i] = d[i];
    }

    private static void ProductN64(ArrayView<float> output, ulong a, ulong b)
    {
        WarpGroupMma.Fence();
        var d = WarpGroupMma.MultiplyAddBF16(a, b, false, default(Floats32));
        d = WarpGroupMma.MultiplyAddBF16(a + 2, b + 2, true, d);
        WarpGroupMma.Commit();
        WarpGroupMma.Wait(0);
        for (int i = 0; i < Floats32.Length; i++) output[Group.IdxX * Floats32.Length + i] = d[i];
    }

    private static void ProductN128(ArrayView<float> output, ulong a, ulong b)
    {
        WarpGroupMma.Fence();
        var d = WarpGroupMma.MultiplyAddF16(a, b, false, default(Floats64));
        d = WarpGroupMma.MultiplyAddF16(a + 2, b + 2, true, d);
        WarpGroupMma.Commit();
        WarpGroupMma.Wait(0);
        for (int i = 0; i < Floats64.Length; i++) output[Group.IdxX * Floats64.Length + i] = d[i];
    }

    private static void NoProduct(ArrayView<float> output) => output[Group.IdxX] = 1f;

    // a producer warpgroup gives registers back, the consumers take them (FA3's roles)
    [LaunchBounds(256, 1)]
    private static void Roles(ArrayView<float> output)
    {
        if (Group.IdxX / WarpGroupMma.Threads == 0) WarpGroup.DecreaseRegisters(40);
        else WarpGroup.IncreaseRegisters(232);
        output[Group.IdxX] = 1f;
    }

    private static string Ptx(string kernel, PtxTarget target)
    {
        var method = typeof(WarpGroupMmaTests).GetMethod(kernel, BindingFlags.NonPublic | BindingFlags.Static)!;
        return KernelCompiler.Instance.Compile(method, new object?[method.GetParameters().Length], target).Ptx;
    }

    [TestCase(nameof(ProductN32), "m64n32k16.f32.f16.f16", 16)]
    [TestCase(nameof(ProductN64), "m64n64k16.f32.bf16.bf16", 32)]
    [TestCase(nameof(ProductN128), "m64n128k16.f32.f16.f16", 64)]
    public void ProductsTakeTheirShapeFromTheAccumulatorsAndChainInOneRegisterSet(string kernel, string shape, int accumulators)
    {
        string ptx = Ptx(kernel, PtxTarget.Default);
        var products = System.Text.RegularExpressions.Regex.Matches(ptx, @"wgmma\.mma_async\.sync\.aligned\.(\S+) \{([^}]*)\}, %rd\d+, %rd\d+, %p\d+, 1, 1, 0, 0;");
        Assert.Multiple(() =>
        {
            Assert.That(ptx, Does.Contain(".target sm_90a"));
            Assert.That(products, Has.Count.EqualTo(2));
            Assert.That(products.Select(m => m.Groups[1].Value), Is.All.EqualTo(shape));
            Assert.That(products[0].Groups[2].Value.Split(", "), Has.Length.EqualTo(accumulators));
            Assert.That(products[1].Groups[2].Value, Is.EqualTo(products[0].Groups[2].Value), "the second product accumulates in the first's registers");
            Assert.That(ptx, Does.Not.Contain("mov.f32"), "no copies into the accumulators (the first product reads none)");
            Assert.That(ptx, Does.Contain("wgmma.fence.sync.aligned;").And.Contain("wgmma.commit_group.sync.aligned;")
                .And.Contain("wgmma.wait_group.sync.aligned 0;"));
            Assert.That(ptx, Does.Not.Contain(".local"), "the accumulators are registers");
        });
    }

    [Test]
    public void RegisterReallocationIsSetmaxnregOnSm90a()
        => Assert.That(Ptx(nameof(Roles), PtxTarget.Default), Does.Contain(".target sm_90a").And.Contain("setmaxnreg.dec.sync.aligned.u32 40;")
            .And.Contain("setmaxnreg.inc.sync.aligned.u32 232;"));

    [Test]
    public void OnlyModulesWithProductsTargetSm90a()
        => Assert.That(Ptx(nameof(NoProduct), PtxTarget.Default), Does.Contain(".target sm_90\n"));

    [TestCase(80, 8, 1)]
    [TestCase(100, 8, 6)]
    [TestCase(90, 7, 8)]
    public void ProductsAreRefusedOffSm90a(int sm, int isaMajor, int isaMinor)
    {
        var e = Assert.Throws<CompilationException>(() => Ptx(nameof(ProductN64), new PtxTarget(isaMajor, isaMinor, sm)));
        Assert.That(e!.ToString(), Does.Contain("needs sm_90a"));
    }

    [Test]
    public void RegisterArraysAreOneScalarPerElement()
    {
        var layout = TypeLayout.Of(typeof(Floats32));
        Assert.Multiple(() =>
        {
            Assert.That(layout.Size, Is.EqualTo(128));
            Assert.That(layout.Leaves.Select(l => l.Offset), Is.EqualTo(Enumerable.Range(0, 32).Select(i => 4 * i)));
            Assert.That(TypeLayout.Of(typeof(Floats64)).Leaves, Has.Count.EqualTo(64));
        });
    }

    [Test]
    public void DescriptorsPackTheirFields()
    {
        ulong descriptor = WarpGroupMma.Descriptor(0x2_4A30, SharedSwizzle.Bytes64, leadingByteOffset: 4096, strideByteOffset: 512);
        Assert.Multiple(() =>
        {
            Assert.That(descriptor & 0x3FFF, Is.EqualTo(0x2_4A30 >> 4), "start address / 16");
            Assert.That(descriptor >> 16 & 0x3FFF, Is.EqualTo(4096 >> 4), "leading byte offset / 16");
            Assert.That(descriptor >> 32 & 0x3FFF, Is.EqualTo(512 >> 4), "stride byte offset / 16");
            Assert.That(descriptor >> 49 & 7, Is.Zero, "base offset");
            Assert.That(descriptor >> 62, Is.EqualTo(2), "64-byte swizzle");
        });
    }

    [Test]
    public void SwizzledAddressesPermuteChunksWithinEachRow()
    {
        // 128-byte swizzle, an atom at 1024: row r's 16-byte chunk c sits at chunk c ^ r of that row
        ulong descriptor = WarpGroupMma.Descriptor(1024, SharedSwizzle.Bytes128, 16, 1024);
        for (int row = 0; row < 8; row++)
            for (int k = 0; k < 64; k += 8)
                Assert.That(WarpGroupMma.ElementAddress(descriptor, row, k), Is.EqualTo(1024 + row * 128 + 16 * (k / 8 ^ row)), $"row {row}, k {k}");
        // no swizzle: 8 × 16-byte core matrices, k-adjacent ones at the leading offset, row groups at the stride offset
        ulong plain = WarpGroupMma.Descriptor(256, SharedSwizzle.None, leadingByteOffset: 128, strideByteOffset: 1024);
        Assert.That(WarpGroupMma.ElementAddress(plain, 9, 11), Is.EqualTo(256 + 1024 + 128 + 1 * 16 + 2 * 3));
    }
}
