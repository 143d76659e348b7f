namespace FlashAttn.Bench.Results;

/// <summary>What identifies one configuration across backends (batch and heads follow from seqlen and d in the sweep).</summary>
internal readonly record struct ConfigurationKey(DType DType, int HeadDim, bool Causal, int SeqLen, AttentionPass Pass);
