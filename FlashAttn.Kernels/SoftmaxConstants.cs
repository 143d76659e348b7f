namespace FlashAttn.Kernels;

/// <summary>Constants of the exp2-domain online softmax.</summary>
internal static class SoftmaxConstants
{
    /// <summary>log2(e) = 1 / ln 2: exp(x) = exp2(x · Log2E), so the softmax scale is premultiplied by it.</summary>
    public const float Log2E = 1.44269504088896340736f;

    /// <summary>ln 2: converts a log2-domain log-sum-exp back to the natural log the API returns.</summary>
    public const float Ln2 = 0.693147180559945309417f;
}
