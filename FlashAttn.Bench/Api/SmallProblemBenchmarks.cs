using BenchmarkDotNet.Attributes;

namespace FlashAttn.Bench.Api;

/// <summary>Base of the API benchmarks: a device with a <see cref="SmallProblem"/> on it, freed after the runs.</summary>
public abstract class SmallProblemBenchmarks
{
    private readonly List<IDisposable> _owned = [];

    /// <summary>The device the problem lives on.</summary>
    protected Device Device { get; private set; } = null!;

    /// <summary>The tensors.</summary>
    internal SmallProblem Problem { get; private set; } = null!;

    /// <summary>A CPU device whose attention launches nothing (<see cref="NullAttentionKernels"/>): the API's cost alone.</summary>
    protected static Device NullKernelDevice()
    {
        var device = Device.Cpu();
        device.AttentionKernels = NullAttentionKernels.Instance;
        return device;
    }

    /// <summary>Takes <paramref name="device"/> and creates the problem of length <paramref name="seqLen"/> on it.</summary>
    protected void Open(Device device, int seqLen)
    {
        Device = device;
        Problem = new SmallProblem(device, seqLen);
    }

    /// <summary>Frees <paramref name="resource"/> with the problem.</summary>
    protected T Own<T>(T resource) where T : IDisposable
    {
        _owned.Add(resource);
        return resource;
    }

    /// <summary>Frees everything, then the device.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var resource in _owned) resource.Dispose();
        _owned.Clear();
        Problem.Dispose();
        Device.Dispose();
    }
}
