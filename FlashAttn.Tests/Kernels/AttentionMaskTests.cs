using FlashAttn.Kernels;
using FlashAttn.Kernels.Reference;

namespace FlashAttn.Tests.Kernels;

/// <summary>
/// <see cref="AttentionMask"/>'s block ranges against brute force over the element test of the fp64 reference
/// (<see cref="AttentionReference.Visible"/>): random lengths, window edges, causal flag, alignment and block shapes. The
/// forward visits exactly the key blocks some row sees; the backward every query block that sees the key block (and,
/// when no row sees it, at most one more); the element test is requested exactly where some element is hidden.
/// </summary>
public class AttentionMaskTests
{
    private static readonly int[] Blocks = [16, 32, 64, 128];

    /// <summary>A random call: lengths up to 300, edges −1 (unbounded), small, or past every length.</summary>
    internal static (AttentionShape Shape, AttentionSettings Settings, AttentionMask Mask) RandomCall(Random random)
    {
        int sq = random.Next(1, 300), sk = random.Next(1, 300);
        int Edge() => random.Next(5) switch { 0 => -1, 1 => 0, 2 => int.MaxValue, 3 => random.Next(1, 8), _ => random.Next(1, 400) };
        var settings = new AttentionSettings(1f, Causal: random.Next(2) == 0, CausalBottomRight: random.Next(2) == 0,
            WindowLeft: Edge(), WindowRight: Edge());
        var p = new AttentionParams { WindowLeft = settings.WindowLeft, WindowRight = settings.WindowRight };
        var mask = AttentionMask.Of(sk, settings.CausalBottomRight ? sk - sq : 0, p, settings.Causal);
        return (new AttentionShape(1, sq, sk, 1, 1, 1), settings, mask);
    }

    internal static bool Visible(AttentionShape shape, AttentionSettings settings, int i, int j)
        => j < shape.SeqLenK && AttentionReference.Visible(shape, settings, i, j);

    [Test]
    public void ElementTestMatchesTheReference()
    {
        var random = new Random(1);
        for (int call = 0; call < 300; call++)
        {
            var (shape, settings, mask) = RandomCall(random);
            for (int i = 0; i < shape.SeqLenQ; i++)
                for (int j = 0; j < shape.SeqLenK + 3; j++)
                    if (mask.Visible(i, j) != Visible(shape, settings, i, j))
                        Assert.Fail($"{settings} s_q {shape.SeqLenQ} s_k {shape.SeqLenK}: query {i}, key {j}");
        }
    }

    [Test]
    public void ForwardVisitsExactlyTheKeyBlocksTheRowsSee()
    {
        var random = new Random(2);
        for (int call = 0; call < 1500; call++)
        {
            var (shape, settings, mask) = RandomCall(random);
            int br = Blocks[random.Next(Blocks.Length)], bc = Blocks[random.Next(Blocks.Length)];
            for (int q0 = 0; q0 < shape.SeqLenQ; q0 += br)
            {
                int rows = Math.Min(br, shape.SeqLenQ - q0);
                int first = int.MaxValue, last = -1;
                for (int i = q0; i < q0 + rows; i++)
                    for (int j = 0; j < shape.SeqLenK; j++)
                        if (Visible(shape, settings, i, j)) { first = Math.Min(first, j / bc); last = Math.Max(last, j / bc); }
                int begin = mask.FirstKeyBlock(q0, bc), end = mask.KeyBlockCount(q0, rows, bc);
                string where = $"{settings} s_q {shape.SeqLenQ} s_k {shape.SeqLenK} Br {br} Bc {bc} q0 {q0}";
                if (last < 0) Assert.That(end, Is.LessThanOrEqualTo(begin), $"{where}: no row sees a key, yet blocks [{begin}, {end})");
                else Assert.That((begin, end), Is.EqualTo((first, last + 1)), where);
                for (int block = begin; block < end; block++)
                    Assert.That(mask.BlockNeedsMask(q0, rows, block * bc, bc), Is.EqualTo(SomeHidden(shape, settings, q0, rows, block * bc, bc)),
                        $"{where} key block {block}");
            }
        }
    }

    [Test]
    public void BackwardVisitsEveryQueryBlockThatSeesTheKeys()
    {
        var random = new Random(3);
        for (int call = 0; call < 1500; call++)
        {
            var (shape, settings, mask) = RandomCall(random);
            int br = Blocks[random.Next(Blocks.Length)], bc = Blocks[random.Next(Blocks.Length)];
            for (int k0 = 0; k0 < shape.SeqLenK; k0 += bc)
            {
                int begin = mask.FirstQuerySeeing(k0) / br, end = (mask.QueryEnd(k0, bc, shape.SeqLenQ) + br - 1) / br;
                string where = $"{settings} s_q {shape.SeqLenQ} s_k {shape.SeqLenK} Br {br} Bc {bc} k0 {k0}";
                bool anySeen = false;
                int wasted = 0;
                for (int block = 0; block * br < shape.SeqLenQ; block++)
                {
                    int q0 = block * br, rows = Math.Min(br, shape.SeqLenQ - q0);
                    bool seen = SomeVisible(shape, settings, q0, rows, k0, bc);
                    bool visited = block >= begin && block < end;
                    anySeen |= seen;
                    if (seen) Assert.That(visited, $"{where}: query block {block} sees the keys but is skipped");
                    if (visited && !seen) wasted++;
                    if (visited)
                        Assert.That(mask.QueryBlockNeedsMask(q0, rows, k0, bc), Is.EqualTo(SomeHidden(shape, settings, q0, rows, k0, bc)),
                            $"{where} query block {block}");
                }
                // a key block no row sees may cost one visit (its first query lies past s_q inside the last, partial block)
                Assert.That(wasted, Is.LessThanOrEqualTo(anySeen ? 0 : 1), $"{where}: {wasted} query blocks visited for nothing");
            }
        }
    }

    /// <summary>Skipping, counted: a causal window of 128 keys over 8192 keys visits at most three 64-key blocks per 64
    /// rows (and three query blocks per key block), where causal alone visits the lower triangle.</summary>
    [Test]
    public void NarrowWindowVisitsFewBlocks()
    {
        const int length = 8192, block = 64, left = 128;
        var p = new AttentionParams { WindowLeft = left, WindowRight = -1 };
        var mask = AttentionMask.Of(length, 0, p, causal: true);
        var causalOnly = AttentionMask.Of(length, 0, new AttentionParams { WindowLeft = -1, WindowRight = -1 }, causal: true);
        long forward = 0, backward = 0, dense = 0;
        for (int q0 = 0; q0 < length; q0 += block)
        {
            forward += mask.KeyBlockCount(q0, block, block) - mask.FirstKeyBlock(q0, block);
            dense += causalOnly.KeyBlockCount(q0, block, block) - causalOnly.FirstKeyBlock(q0, block);
        }
        for (int k0 = 0; k0 < length; k0 += block)
            backward += (mask.QueryEnd(k0, block, length) + block - 1) / block - mask.FirstQuerySeeing(k0) / block;
        int blocks = length / block;
        Assert.That(forward, Is.LessThanOrEqualTo(3L * blocks), "forward key blocks");
        Assert.That(backward, Is.LessThanOrEqualTo(3L * blocks), "backward query blocks");
        Assert.That(dense, Is.EqualTo((long)blocks * (blocks + 1) / 2), "causal alone: the lower triangle");
    }

    private static bool SomeHidden(AttentionShape shape, AttentionSettings settings, int q0, int rows, int k0, int cols)
    {
        for (int i = q0; i < q0 + rows; i++)
            for (int j = k0; j < k0 + cols; j++)
                if (!Visible(shape, settings, i, j)) return true;
        return false;
    }

    private static bool SomeVisible(AttentionShape shape, AttentionSettings settings, int q0, int rows, int k0, int cols)
    {
        for (int i = q0; i < q0 + rows; i++)
            for (int j = k0; j < k0 + cols; j++)
                if (Visible(shape, settings, i, j)) return true;
        return false;
    }
}
