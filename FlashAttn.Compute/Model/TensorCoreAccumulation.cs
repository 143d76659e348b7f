namespace FlashAttn.Compute;

/// <summary>
/// How the CPU models a tensor core adding a group of products into an fp32 accumulator (<c>mma.sync</c> with fp32
/// accumulators): the products are exact; they and the accumulator are aligned to the largest of their exponents keeping
/// <see cref="ExtraBits"/> bits below fp32's 24 (the bits shifted out are dropped), summed exactly, and the sum is truncated
/// to fp32 (rounded toward zero).
/// </summary>
/// <remarks>
/// The model is the one Fasi, Higham, Mikaitis and Pranesh measured on the A100 ("Numerical behavior of NVIDIA tensor cores",
/// PeerJ CS, 2021): products exact, alignment by truncation, normalisation toward zero, a group of 16 bytes of k per step
/// (4 tf32 or 8 fp16/bf16 elements). NVIDIA documents none of it, and the H200's exact bits may differ in the last place
/// (the corpus compares mma results within a tolerance). What the model keeps is the size and the sign of the error: each
/// step loses up to an ulp of the accumulator toward zero, so a long chain of mma into one accumulator drifts. Rounding to
/// nearest (FMA) in k order, the CPU's model before, hid that: 3×TF32 kernels that let the mma sum O, dK and dV over whole
/// sequences passed on the CPU and were 2.5–12× naive fp32's error on the H200 (2026-12-05, oracle-fp32-3xtf32.md); under
/// this model the CPU shows the same drift.
/// </remarks>
internal static class TensorCoreAccumulation
{
    /// <summary>Bits kept below fp32's precision while the terms are aligned.</summary>
    internal const int ExtraBits = 3;

    /// <summary>Bytes of k one step of the hardware adds at once.</summary>
    internal const int GroupBytes = 16;

    /// <summary><paramref name="accumulator"/> + Σ <paramref name="products"/> (each exact in fp64), as one step of the model.</summary>
    internal static float Add(float accumulator, ReadOnlySpan<double> products)
    {
        int largest = accumulator == 0f ? int.MinValue : Math.ILogB(accumulator);
        double plain = accumulator;
        foreach (double product in products)
        {
            plain += product;
            if (product != 0) largest = Math.Max(largest, Math.ILogB(product));
        }
        // ∞ and NaN (inputs or accumulator) propagate as IEEE adds do; all zeros give the plain sum's zero
        if (!double.IsFinite(plain) || largest == int.MinValue) return (float)plain;
        double quantum = Math.ScaleB(1.0, largest - 23 - ExtraBits);
        double sum = Math.Truncate(accumulator / quantum) * quantum;
        foreach (double product in products) sum += Math.Truncate(product / quantum) * quantum;
        if (sum == 0) return 0f;
        // toward zero to fp32's 24 bits (a fixed quantum below the smallest normal); past fp32's range, ∞
        double unit = Math.ScaleB(1.0, Math.Max(Math.ILogB(sum), -126) - 23);
        return (float)(Math.Truncate(sum / unit) * unit);
    }
}
