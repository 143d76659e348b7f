using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Merging two softmax-normalised partial results of one query row by their log-sum-exps (ring attention's running
/// merge; <see cref="SplitCombineKernel"/> is the n-way form): with L = log(exp(L_a) + exp(L_b)),
/// O = exp(L_a − L) O_a + exp(L_b − L) O_b. A part that saw no key has L = −∞ (weight 0); an attention call's row that
/// saw no key reports L = +∞ with O = 0, and counts as −∞ here. A NaN in either part makes the row NaN.
/// </summary>
internal static class LseMerge
{
    /// <summary>The merged log-sum-exp of <paramref name="accumulated"/> and <paramref name="partial"/>, and each one's
    /// weight in the merged output.</summary>
    public static float Merge(float accumulated, float partial, out float accumulatedWeight, out float partialWeight)
    {
        if (partial == float.PositiveInfinity) partial = float.NegativeInfinity;
        // PTX's max drops a NaN operand: test for it, so that NaN reaches the exponentials below
        float max = XMath.IsNaN(accumulated) || XMath.IsNaN(partial) ? float.NaN : XMath.Max(accumulated, partial);
        if (max == float.NegativeInfinity)
        {
            accumulatedWeight = 0f;
            partialWeight = 0f;
            return float.NegativeInfinity;
        }
        float merged = max + XMath.Log(XMath.Exp(accumulated - max) + XMath.Exp(partial - max));
        accumulatedWeight = XMath.Exp(accumulated - merged);
        partialWeight = XMath.Exp(partial - merged);
        return merged;
    }
}
