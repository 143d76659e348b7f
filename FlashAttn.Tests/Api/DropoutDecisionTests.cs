using FlashAttn.Tests.Kernels;
using FlashAttn.Tests.Api.Sequences;
using static FlashAttn.Tests.Api.Sequences.SequenceTestSupport;

namespace FlashAttn.Tests.Api;

/// <summary>
/// Every kernel's dropout decisions, entry by entry, against <see cref="FlashAttention.DropoutMask"/> (<see cref="Dropout.Keep"/>).
/// With q = 0 every P_ij is 1/s_k; with v_j the one-hot vector e_j, O_i's column j is P_ij · Z_ij / (1 − p), and with dO_i =
/// e_i, dV_j's column i is P_ij · Z_ij / (1 − p) as well: both are 0 exactly where dropout drops (s_q, s_k ≤ d). A tolerance
/// check against a reference could miss a few wrong decisions; this cannot.
/// </summary>
public class DropoutDecisionTests
{
    /// <summary>The host mask, drawn a group of 8 entries per Philox call, is <see cref="Dropout.Keep"/> entry by entry.</summary>
    [TestCase(2, 3, 37, 29, 0.3f)]
    [TestCase(1, 1, 9, 10, 0.5f)]
    [TestCase(1, 2, 1, 1, 0.1f)]
    [TestCase(1, 2, 16, 17, 0f)]
    public void DropoutMaskIsKeepEntryByEntry(int batch, int heads, int seqLenQ, int seqLenK, float p)
    {
        var dropout = new Dropout(p, 0x1234_5678_9abcUL, 77);
        var mask = FlashAttention.DropoutMask(dropout, batch, heads, seqLenQ, seqLenK);
        int index = 0, dropped = 0;
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < seqLenQ; i++)
                    for (int j = 0; j < seqLenK; j++, index++)
                    {
                        bool keep = !dropout.Enabled || dropout.Keep(heads, b, h, i, j);
                        Assert.That(mask[index], Is.EqualTo(keep), $"({b}, {h}, {i}, {j})");
                        if (!keep) dropped++;
                    }
        Assert.That(dropped > 0, Is.EqualTo(p >= 0.3f), $"{dropped} dropped");
    }

    [TestCase(SequenceDevice.Cpu, AttentionDtype.Fp32, 64)]
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp16, 64)] // tensor cores
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp32, 64)] // FFMA, 8 threads per row: key pairs share a group
    [TestCase(SequenceDevice.Emulator, AttentionDtype.Fp32, 136)] // FFMA, 16 threads per row: one group per key
    public void KernelsDropExactlyWhereDropoutKeepSays(SequenceDevice where, AttentionDtype dtype, int headDim)
    {
        switch (dtype)
        {
            case AttentionDtype.Fp16: Run<Half>(where, headDim); break;
            default: Run<float>(where, headDim); break;
        }
    }

    private static void Run<T>(SequenceDevice where, int headDim) where T : unmanaged
    {
        const int batch = 2, heads = 2, seqLenQ = 45, seqLenK = 58;
        var dropout = new Dropout(0.5f, seed: 0x5EED_0000_0000_0001, offset: 0x0000_0003_0000_0009);
        using var device = Create(where);
        using var q = Upload<T>(device, new float[batch * seqLenQ * heads * headDim], batch, seqLenQ, heads, headDim);
        using var k = Upload<T>(device, SequenceTestSupport.Random(new Random(3), (long)batch * seqLenK * heads * headDim, AttentionDtype.Fp16),
            batch, seqLenK, heads, headDim);
        using var v = Upload<T>(device, OneHot(batch, seqLenK, heads, headDim), batch, seqLenK, heads, headDim);
        using var dOut = Upload<T>(device, OneHot(batch, seqLenQ, heads, headDim), batch, seqLenQ, heads, headDim);
        var options = new AttentionOptions { Dropout = dropout, ReturnLse = true };
        using var forward = FlashAttention.Forward(q, k, v, options);
        using var gradients = FlashAttention.Backward(dOut, q, k, v, forward.Output, forward.Lse!, options);
        double[] output = Download(forward.Output), dv = Download(gradients.DV);
        bool[] mask = FlashAttention.DropoutMask(dropout, batch, heads, seqLenQ, seqLenK);
        int wrongForward = 0, wrongBackward = 0;
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < seqLenQ; i++)
                    for (int j = 0; j < seqLenK; j++)
                    {
                        bool kept = mask[((b * heads + h) * seqLenQ + i) * seqLenK + j];
                        wrongForward += (output[((b * seqLenQ + i) * heads + h) * headDim + j] != 0) != kept ? 1 : 0;
                        wrongBackward += (dv[((b * seqLenK + j) * heads + h) * headDim + i] != 0) != kept ? 1 : 0;
                    }
        Assert.Multiple(() =>
        {
            Assert.That(wrongForward, Is.Zero, "forward decisions that differ from Dropout.Keep");
            Assert.That(wrongBackward, Is.Zero, "backward decisions that differ from Dropout.Keep");
            Assert.That(mask.Count(x => x), Is.InRange(mask.Length / 3, 2 * mask.Length / 3), "p = 0.5 drops about half");
        });
    }

    /// <summary>(batch, rows, heads, d) with row r of every head the one-hot vector e_r.</summary>
    private static float[] OneHot(int batch, int rows, int heads, int headDim)
    {
        var values = new float[batch * rows * heads * headDim];
        for (int b = 0; b < batch; b++)
            for (int r = 0; r < rows; r++)
                for (int h = 0; h < heads; h++)
                    values[((b * rows + r) * heads + h) * headDim + r] = 1f;
        return values;
    }
}
