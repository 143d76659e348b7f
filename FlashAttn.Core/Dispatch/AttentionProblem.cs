namespace FlashAttn.Dispatch;

/// <summary>One validated attention call: sizes and settings, as handed to <see cref="IAttentionKernels"/>. WindowLeft and
/// WindowRight are the sliding window's edges (keys left and right of the diagonal; −1: unbounded); Dropout acts on P
/// when its probability is positive; Layout orders the dimensions of q, k, v, the output, dO and the gradients.</summary>
internal sealed record AttentionProblem(
    int Batch, int SeqLenQ, int SeqLenK, int HeadsQ, int HeadsKV, int HeadDim,
    float Scale, bool Causal, bool CausalBottomRight, bool Deterministic, int WindowLeft = -1, int WindowRight = -1,
    Dropout Dropout = default, Fp32Math Fp32Math = Fp32Math.Auto, AttentionLayout Layout = AttentionLayout.BatchSeqHeadDim)
{
    /// <summary>Elements of q, output and dOut.</summary>
    public long QElements => (long)Batch * SeqLenQ * HeadsQ * HeadDim;

    /// <summary>Elements of k and v.</summary>
    public long KvElements => (long)Batch * SeqLenK * HeadsKV * HeadDim;

    /// <summary>Elements of the log-sum-exp (b, h_q, s_q).</summary>
    public long LseElements => (long)Batch * HeadsQ * SeqLenQ;
}
