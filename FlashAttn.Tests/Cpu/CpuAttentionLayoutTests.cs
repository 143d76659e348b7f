using FlashAttn.Cpu;
using FlashAttn.Dispatch;
using FlashAttn.Tests.Kernels;

namespace FlashAttn.Tests.Cpu;

/// <summary>
/// The CPU path's ranges (<see cref="CpuAttentionLayout"/>) against brute force over the reference's element test, on the
/// random calls of <see cref="AttentionMaskTests"/>: each row's keys and each key's rows exactly, and the 64-row blocks
/// the forward and backward visit being exactly those holding a visible pair.
/// </summary>
public class CpuAttentionLayoutTests
{
    [Test]
    public void RangesMatchBruteForce()
    {
        const int block = CpuAttentionLayout.Block;
        var random = new Random(4);
        for (int call = 0; call < 600; call++)
        {
            var (shape, settings, _) = AttentionMaskTests.RandomCall(random);
            var layout = new CpuAttentionLayout(new AttentionProblem(1, shape.SeqLenQ, shape.SeqLenK, 1, 1, 8, 1f, settings.Causal,
                settings.CausalBottomRight, false, settings.WindowLeft, settings.WindowRight));
            bool Visible(int i, int j) => AttentionMaskTests.Visible(shape, settings, i, j);
            string where = $"{settings} s_q {shape.SeqLenQ} s_k {shape.SeqLenK}";
            for (int i = 0; i < shape.SeqLenQ; i++)
                for (int j = 0; j < shape.SeqLenK; j++)
                {
                    bool inRows = i >= layout.FirstQueryOf(j) && i < layout.QueryLimit(j);
                    bool inKeys = j >= layout.KeyStart(i) && j < layout.KeyLimit(i);
                    if (inRows != Visible(i, j) || inKeys != Visible(i, j)) Assert.Fail($"{where}: query {i}, key {j}");
                }
            for (int qb = 0; qb < layout.QueryBlocks; qb++)
                for (int kb = 0; kb < layout.KeyBlocks; kb++)
                {
                    int i0 = qb * block, rows = Math.Min(block, shape.SeqLenQ - i0);
                    bool seen = Enumerable.Range(i0, rows).Any(i => Enumerable.Range(kb * block, block).Any(j => Visible(i, j)));
                    bool forward = kb >= layout.FirstKeyBlockOf(i0) && kb < layout.KeyBlockEndOf(i0, rows);
                    bool backward = qb >= layout.FirstQueryBlockOf(kb) && qb < layout.QueryBlockEndOf(kb);
                    Assert.That(forward, Is.EqualTo(seen), $"{where}: forward, query block {qb}, key block {kb}");
                    // as the GPU's backward: a key block no row sees may cost one visit past s_q's last full block
                    if (seen) Assert.That(backward, $"{where}: backward skips query block {qb} for key block {kb}");
                }
        }
    }
}
