namespace FlashAttn.Cpu;

/// <summary>The CPU path's softmax runs in log2 units: exp(x) = exp2(x · log₂e), so scores are pre-scaled by log₂e.</summary>
internal static class SoftmaxLog2
{
    /// <summary>log₂ e = 1 / ln 2.</summary>
    public const float Log2E = 1.4426950408889634f;

    /// <summary>ln 2: log-sum-exps and gradients go back to natural units with it.</summary>
    public const float Ln2 = 0.6931471805599453f;
}
