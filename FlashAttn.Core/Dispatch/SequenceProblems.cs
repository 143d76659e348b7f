using FlashAttn.Kernels;

namespace FlashAttn.Dispatch;

/// <summary>One validated variable-length call: sizes and settings, as handed to <see cref="IAttentionKernels"/>.</summary>
internal sealed record VarlenProblem(VarlenShape Shape, AttentionSettings Settings);

/// <summary>One validated KV-cache call: sizes, settings and the split-KV count (0: the kernels choose).</summary>
internal sealed record KvCacheProblem(KvCacheShape Shape, AttentionSettings Settings, int Splits);
