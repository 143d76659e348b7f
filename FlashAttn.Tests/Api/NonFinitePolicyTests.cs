namespace FlashAttn.Tests.Api;

/// <summary>
/// NaN and ±∞ propagate per row as in PyTorch: a bad query row poisons its own output row only; a bad key or value
/// poisons the rows that attend to it. Checked on the CPU path and on the GPU kernels (the emulating CPU accelerator).
/// </summary>
public class NonFinitePolicyTests
{
    private const int BadRow = 4;

    /// <summary>The CPU path, or the GPU kernels on the emulating accelerator.</summary>
    private static Device CreateDevice(bool gpuKernels) => gpuKernels ? Device.CpuEmulator() : Device.Cpu();

    private static float[] RowsOf(float[] output, int row)
        => output.AsSpan(row * ApiTestData.Heads * ApiTestData.HeadDim, ApiTestData.Heads * ApiTestData.HeadDim).ToArray();

    [TestCase(float.NaN, false), TestCase(float.PositiveInfinity, false), TestCase(float.NegativeInfinity, false)]
    [TestCase(float.NaN, true), TestCase(float.PositiveInfinity, true), TestCase(float.NegativeInfinity, true)]
    public void ABadQueryRowPoisonsOnlyItsOwnOutputRow(float bad, bool gpuKernels)
    {
        using var device = CreateDevice(gpuKernels);
        using var data = new ApiTestData(device);
        var q = (float[])data.QValues.Clone();
        q[BadRow * ApiTestData.Heads * ApiTestData.HeadDim] = bad; // head 0 of query row 4
        using var badQ = DeviceTensor.Upload<float>(device, q, ApiTestData.QShape);
        using var result = FlashAttention.Forward(badQ, data.K, data.V);
        float[] output = result.ToArray();
        for (int row = 0; row < ApiTestData.SeqLen; row++)
        {
            float[] values = RowsOf(output, row)[..ApiTestData.HeadDim]; // head 0
            if (row == BadRow) Assert.That(values, Has.All.NaN, $"row {row}");
            else Assert.That(values.All(float.IsFinite), $"row {row} stays finite");
        }
    }

    // An infinite key gives scores of +∞ or −∞ by the sign of q: −∞ masks the key, +∞ makes the row NaN (as PyTorch).
    [TestCase(float.NaN, false), TestCase(float.NaN, true)]
    public void ABadKeyPoisonsEveryRowThatAttendsToIt(float bad, bool gpuKernels)
    {
        using var device = CreateDevice(gpuKernels);
        using var data = new ApiTestData(device);
        var k = (float[])data.KValues.Clone();
        k[BadRow * ApiTestData.HeadDim] = bad; // key row 4 (one kv head)
        using var badK = DeviceTensor.Upload<float>(device, k, ApiTestData.KvShape);
        using var fullResult = FlashAttention.Forward(data.Q, badK, data.V);
        using var causalResult = FlashAttention.Forward(data.Q, badK, data.V, causal: true);
        float[] full = fullResult.ToArray(), causal = causalResult.ToArray();
        Assert.That(full, Has.All.NaN, "without a mask every row attends to the bad key");
        for (int row = BadRow; row < ApiTestData.SeqLen; row++)
            Assert.That(RowsOf(causal, row), Has.All.NaN, $"causal row {row} attends to key {BadRow}");
    }

    [Test]
    public void ANaNValuePoisonsTheRowsThatAttendToIt([Values] bool gpuKernels)
    {
        using var device = CreateDevice(gpuKernels);
        using var data = new ApiTestData(device);
        var v = (float[])data.VValues.Clone();
        v[BadRow * ApiTestData.HeadDim] = float.NaN; // value row 4, feature 0
        using var badV = DeviceTensor.Upload<float>(device, v, ApiTestData.KvShape);
        using var result = FlashAttention.Forward(data.Q, data.K, badV, causal: true);
        float[] causal = result.ToArray();
        for (int row = BadRow; row < ApiTestData.SeqLen; row++)
            Assert.That(float.IsNaN(RowsOf(causal, row)[0]), $"causal row {row}, feature 0");
    }
}
