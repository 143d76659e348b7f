namespace FlashAttn.Distributed;

/// <summary>How a sequence of length s is split among the n ranks of a <see cref="ContextParallel"/> call.</summary>
public enum SequenceSharding
{
    /// <summary>
    /// Zig-zag (load-balanced for causal attention, as in ring-flash-attention and Llama 3's context parallelism): the
    /// sequence is cut into 2n equal chunks and rank r holds chunks r and 2n − 1 − r, in that order, so every rank does
    /// the same causal work. s must be a multiple of 2n.
    /// </summary>
    ZigZag,

    /// <summary>Rank r holds positions [r·s/n, (r + 1)·s/n). Under a causal mask the last rank does n times the first
    /// rank's work. s must be a multiple of n.</summary>
    Contiguous,
}
