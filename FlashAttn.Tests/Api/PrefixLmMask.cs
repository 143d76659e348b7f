using FlashAttn.Compute;

namespace FlashAttn.Tests.Api;

/// <summary>A prefix-LM mask, as a user would write it: a query sees its sequence's whole prefix (bidirectional) and the
/// keys up to its diagonal (causal) after it; prefix lengths per batch entry (or varlen sequence) on the device.</summary>
public readonly struct PrefixLmMask(ArrayView<int> prefixLengths) : IMaskModifier
{
    public ArrayView<int> PrefixLengths { get; } = prefixLengths;

    public bool Visible(ScorePosition at) => at.Key < PrefixLengths[at.Batch] || at.Key <= at.Diagonal;
}
