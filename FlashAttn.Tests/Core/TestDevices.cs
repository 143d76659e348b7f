namespace FlashAttn.Tests.Core;

/// <summary>Devices for the API tests.</summary>
internal static class TestDevices
{
    /// <summary>A device over <see cref="HostAccelerator"/> whose attention runs <see cref="ReferenceAttentionKernels"/>.</summary>
    public static Device Host(out ReferenceAttentionKernels kernels)
    {
        var device = Device.FromAccelerator(new HostAccelerator(), ownsAccelerator: true);
        device.AttentionKernels = kernels = new ReferenceAttentionKernels();
        return device;
    }

    /// <summary>A host test device.</summary>
    public static Device Host() => Host(out _);

    /// <summary>Deterministic pseudo-random values in [-1, 1).</summary>
    public static float[] Random(int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }
}
