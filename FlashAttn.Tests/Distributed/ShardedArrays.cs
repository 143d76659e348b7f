using FlashAttn.Kernels;

namespace FlashAttn.Tests.Distributed;

/// <summary>Host-side sharding of global (b, s, h, d) / (b, h, s, d) arrays and (b, h, s) statistics by sequence positions.</summary>
internal static class ShardedArrays
{
    /// <summary>Index of (batch, position, head, 0) in a tensor of <paramref name="seqLen"/> positions.</summary>
    public static long RowStart(AttentionLayout layout, int seqLen, int heads, int headDim, int batch, int position, int head)
        => layout == AttentionLayout.BatchHeadSeqDim
            ? (((long)batch * heads + head) * seqLen + position) * headDim
            : (((long)batch * seqLen + position) * heads + head) * headDim;

    /// <summary>The rows at <paramref name="positions"/> of a global tensor, in that order.</summary>
    public static T[] Gather<T>(T[] global, int batch, int seqLen, int heads, int headDim, AttentionLayout layout, int[] positions)
    {
        var local = new T[(long)batch * positions.Length * heads * headDim];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < positions.Length; i++)
                for (int h = 0; h < heads; h++)
                    Array.Copy(global, RowStart(layout, seqLen, heads, headDim, b, positions[i], h),
                        local, RowStart(layout, positions.Length, heads, headDim, b, i, h), headDim);
        return local;
    }

    /// <summary>Writes a shard's rows back to their global positions.</summary>
    public static void Scatter<T>(T[] local, T[] global, int batch, int seqLen, int heads, int headDim, AttentionLayout layout, int[] positions)
    {
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < positions.Length; i++)
                for (int h = 0; h < heads; h++)
                    Array.Copy(local, RowStart(layout, positions.Length, heads, headDim, b, i, h),
                        global, RowStart(layout, seqLen, heads, headDim, b, positions[i], h), headDim);
    }
}
