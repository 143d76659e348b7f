using FlashAttn.Compute;
using FlashAttn.Compute.Backends.Ptx;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Tests.Compute;

public class LaunchBoundsTests
{
    [LaunchBounds(64, 3)]
    private static void Bounded(ArrayView<int> output) => output[Grid.GlobalIndexX] = Group.IdxX;

    [Test]
    public void LaunchBoundsReachThePtx()
    {
        var method = typeof(LaunchBoundsTests).GetMethod(nameof(Bounded), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        string ptx = KernelCompiler.Instance.Compile(method, [null], PtxTarget.Default).Ptx;
        Assert.That(ptx, Does.Contain(".maxntid 64, 1, 1").And.Contain(".minnctapersm 3"));
    }

    [Test]
    public void LaunchesPastTheBoundAreRejectedBeforeRunning()
    {
        using var cpu = Accelerators.CreateCpu();
        using var buffer = cpu.Allocate<int>(128);
        var kernel = cpu.LoadKernel(Bounded);
        var error = Assert.Throws<ArgumentException>(() => kernel.Launch(1, 128, buffer.View));
        Assert.That(error!.ParamName, Is.EqualTo("config"));
        Assert.That(error.Message, Does.Contain("launch bound of 64"));
        kernel.Launch(2, 64, buffer.View);
        Assert.That(buffer.ToArray()[127], Is.EqualTo(63));
    }
}
