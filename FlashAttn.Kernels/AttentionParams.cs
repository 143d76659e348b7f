namespace FlashAttn.Kernels;

/// <summary>
/// The run-time scalars every attention kernel takes, in one argument struct (the tile shape is compiled
/// in separately through <see cref="Compute.SpecializedValue{T}"/> parameters).
/// </summary>
internal struct AttentionParams
{
    /// <summary>Batch size b.</summary>
    public int Batch;
    /// <summary>Query length s_q.</summary>
    public int SeqLenQ;
    /// <summary>Key length s_k.</summary>
    public int SeqLenK;
    /// <summary>Query heads h_q.</summary>
    public int HeadsQ;
    /// <summary>Key/value heads h_kv.</summary>
    public int HeadsKV;
    /// <summary>Head dimension d (unpadded).</summary>
    public int HeadDim;
    /// <summary>Dimension order of the query-side tensors q, o, dO and dq (and the dQ accumulator); see <see cref="TokenLayout.Queries"/>.</summary>
    public AttentionLayout QueryLayout;
    /// <summary>Dimension order of the key-side tensors k, v, dk and dv (and the dK, dV accumulators); see <see cref="TokenLayout.KeysValues"/>.</summary>
    public AttentionLayout KeyLayout;
    /// <summary>Causal diagonal offset: query i sees key j when j ≤ i + CausalOffset (s_k − s_q bottom-right, 0 top-left).</summary>
    public int CausalOffset;
    /// <summary>Per-sequence causal alignment (varlen, KV cache): true → s_k − s_q of each sequence, false → 0.</summary>
    public bool CausalBottomRight;
    /// <summary>Sliding window: keys left of the diagonal each query sees (−1: unbounded), as flash-attn's window_size[0].</summary>
    public int WindowLeft;
    /// <summary>Sliding window: keys right of the diagonal each query sees (−1: unbounded; causal caps it at 0).</summary>
    public int WindowRight;
    /// <summary>Dropout: 8-bit random values below this are dropped (<see cref="Dropout.Threshold8"/>; 0 with dropout off).</summary>
    public uint DropoutThreshold;
    /// <summary>Dropout: the scale of kept probabilities (<see cref="Dropout.KeptScale"/>).</summary>
    public float DropoutScale;
    /// <summary>Dropout: the Philox key (<see cref="Dropout.SeedLow"/>, <see cref="Dropout.SeedHigh"/>) and counter offset.</summary>
    public uint DropoutSeedLow, DropoutSeedHigh, DropoutOffset;
    /// <summary>Softmax scale.</summary>
    public float Scale;
    /// <summary>Scale · log2(e): scores are kept in the log2 domain so the kernels use exp2.</summary>
    public float ScaleLog2;

    /// <summary>Query heads per key/value head: query head g reads kv head g / QueriesPerKvHead.</summary>
    public readonly int QueriesPerKvHead => HeadsQ / HeadsKV;

    /// <summary>The Philox words of the dropout group of (sequence, head, query, key) (see <see cref="Dropout"/>).</summary>
    public readonly PhiloxBlock DropoutGroup(int sequence, int head, int query, int key)
        => Dropout.Group(DropoutSeedLow, DropoutSeedHigh, DropoutOffset, HeadsQ, sequence, head, query, key);
}
