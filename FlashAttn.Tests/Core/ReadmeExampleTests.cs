using FlashAttn;

namespace FlashAttn.Tests.Core;

/// <summary>The README's usage example, verbatim but for the data, must compile and run.</summary>
public class ReadmeExampleTests
{
    [Test]
    public void ReadmeExampleRuns()
    {
        int batch = 1, seqLen = 33, heads = 4, kvHeads = 2, headDim = 24;
        var random = new Random(7);
        float[] Random(int n) => Enumerable.Range(0, n).Select(_ => random.NextSingle() - 0.5f).ToArray();
        float[] qData = Random(batch * seqLen * heads * headDim);
        float[] kData = Random(batch * seqLen * kvHeads * headDim), vData = Random(batch * seqLen * kvHeads * headDim);

        using var device = Device.Cpu();
        using var q = DeviceTensor.Upload(device, qData, batch, seqLen, heads, headDim);   // (b, s, h, d)
        using var k = DeviceTensor.Upload(device, kData, batch, seqLen, kvHeads, headDim);
        using var v = DeviceTensor.Upload(device, vData, batch, seqLen, kvHeads, headDim);
        using var output = FlashAttention.Forward(q, k, v, causal: true);
        float[] result = output.ToArray();

        Assert.That(result, Has.Length.EqualTo(qData.Length));
        Assert.That(result.All(float.IsFinite));
        // Row 0 of a causal attention sees only key 0: the output is v[0] of its kv head.
        for (int d = 0; d < headDim; d++)
            Assert.That(result[d], Is.EqualTo(vData[d]).Within(1e-6));
    }

    [Test]
    public void ReadmeTrainingExampleRuns()
    {
        int batch = 1, seqLen = 17, heads = 4, kvHeads = 2, headDim = 16;
        float[] Random(int n, int seed) => TestDevices.Random(n, seed);
        using var device = Device.Cpu();
        using var q = DeviceTensor.Upload(device, Random(batch * seqLen * heads * headDim, 1), batch, seqLen, heads, headDim);
        using var k = DeviceTensor.Upload(device, Random(batch * seqLen * kvHeads * headDim, 2), batch, seqLen, kvHeads, headDim);
        using var v = DeviceTensor.Upload(device, Random(batch * seqLen * kvHeads * headDim, 3), batch, seqLen, kvHeads, headDim);
        using var dOut = DeviceTensor.Upload(device, Random(batch * seqLen * heads * headDim, 4), batch, seqLen, heads, headDim);

        using var attention = FlashAttention.ForwardForTraining(q, k, v, new AttentionOptions { Causal = true });
        // attention.Output (b, s_q, h_q, d), attention.Lse (b, h_q, s_q)
        using var grads = attention.Backward(dOut);                // grads.DQ like q, grads.DK and grads.DV like k

        Assert.Multiple(() =>
        {
            Assert.That(attention.Lse.Shape.ToArray(), Is.EqualTo(new[] { batch, heads, seqLen }));
            Assert.That(grads.DK.Shape.ToArray(), Is.EqualTo(k.Shape.ToArray()));
            Assert.That(grads.DQ.ToArray().All(float.IsFinite));
        });
    }
}
