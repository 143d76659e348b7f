using FlashAttn.Cpu;

namespace FlashAttn.Tests.Cpu;

/// <summary>The packs' transpose: its 8 × 8 AVX squares and the element-wise edges against a plain loop, on shapes with and
/// without whole squares, inside larger strides (nothing outside the target written).</summary>
public unsafe class TransposeTests
{
    [TestCase(64, 64)]
    [TestCase(64, 128)]
    [TestCase(61, 59)]
    [TestCase(8, 3)]
    [TestCase(3, 8)]
    [TestCase(17, 64)]
    [TestCase(1, 1)]
    public void CopyTransposesEveryElementAndNothingElse(int rows, int cols)
    {
        int sourceStride = cols + 5, destinationStride = rows + 7;
        var random = new Random(rows * 1000 + cols);
        var source = new float[rows * sourceStride];
        for (int i = 0; i < source.Length; i++) source[i] = (float)random.NextDouble() - 0.5f;
        var destination = new float[cols * destinationStride];
        Array.Fill(destination, float.NaN);
        fixed (float* from = source, to = destination) Transpose.Copy(from, sourceStride, rows, cols, to, destinationStride);
        for (int c = 0; c < cols; c++)
            for (int r = 0; r < destinationStride; r++)
            {
                float actual = destination[c * destinationStride + r];
                if (r < rows) Assert.That(actual, Is.EqualTo(source[r * sourceStride + c]), $"[{c}, {r}]");
                else Assert.That(actual, Is.NaN, $"[{c}, {r}] past the rows was written");
            }
    }
}
