using FlashAttn.Compute.Runtime;

namespace FlashAttn.Bench.Attention;

/// <summary>
/// Fills device buffers with random values in [-1, 1): a block of <see cref="BlockElements"/> values from the seed,
/// repeated over the buffer. Timing needs values that are not zeros (and never NaN), not a long period; the block
/// keeps host memory and fill time small for buffers of hundreds of MB.
/// </summary>
internal static class RandomFill
{
    /// <summary>Elements of the random block (1 Mi).</summary>
    public const int BlockElements = 1 << 20;

    /// <summary>Fills <paramref name="buffer"/> from <paramref name="seed"/>.</summary>
    public static void Fill<T>(MemoryBuffer<T> buffer, int seed) where T : unmanaged
    {
        var random = new Random(seed);
        var block = new T[(int)Math.Min(buffer.Length, BlockElements)];
        for (int i = 0; i < block.Length; i++) block[i] = DTypes.FromDouble<T>(random.NextSingle() * 2 - 1);
        for (long offset = 0; offset < buffer.Length; offset += block.Length)
            buffer.CopyFromHost(block.AsSpan(0, (int)Math.Min(block.Length, buffer.Length - offset)), offset);
    }

    /// <summary>A new (b, s, h, d) tensor on <paramref name="device"/> filled from <paramref name="seed"/>.</summary>
    public static DeviceTensor<T> Tensor<T>(Device device, int seed, int batch, int seqLen, int heads, int headDim) where T : unmanaged
    {
        var tensor = DeviceTensor.Empty<T>(device, batch, seqLen, heads, headDim);
        Fill(tensor.Buffer, seed);
        return tensor;
    }
}
