using FlashAttn.Kernels;

namespace FlashAttn.Tests.Kernels;

/// <summary>
/// <see cref="TileOrder"/>: every (unit, rank) of a grid is taken exactly once in any order, the last units go rank-major,
/// and under a causal mask that order ends the grid on short tiles where the grid's own order ends on long ones (a list
/// schedule: groups start in linear order on the first free slot, as the hardware starts them).
/// </summary>
public sealed class TileOrderTests
{
    [Test]
    public void EveryTileIsTakenOnce([Values(1, 3, 16)] int ranks, [Values(1, 5, 32)] int units, [Values(0, 1, 2, 100)] int tailRequest)
    {
        int tailUnits = Math.Min(units, tailRequest);
        var seen = new bool[units, ranks];
        for (int linear = 0; linear < units * ranks; linear++)
        {
            int unit = TileOrder.UnitOf(linear, ranks, units, tailUnits, out int rank);
            Assert.That(unit, Is.InRange(0, units - 1));
            Assert.That(rank, Is.InRange(0, ranks - 1));
            Assert.That(seen[unit, rank], Is.False, $"unit {unit} rank {rank} twice");
            seen[unit, rank] = true;
        }
    }

    [Test]
    public void TheLastUnitsGoRankMajor()
    {
        const int ranks = 8, units = 10, tail = 4;
        var order = Enumerable.Range(0, ranks * units).Select(l => (Unit: TileOrder.UnitOf(l, ranks, units, tail, out int r), Rank: r)).ToList();
        // unit-major (ranks 0…7 of unit 0, then unit 1, …) up to the tail, whose units 6…9 take rank 0, then rank 1, …
        Assert.That(order.Take(ranks), Is.EqualTo(Enumerable.Range(0, ranks).Select(r => (0, r))));
        Assert.That(order.Skip((units - tail) * ranks).Take(2 * tail),
            Is.EqualTo(new[] { (6, 0), (7, 0), (8, 0), (9, 0), (6, 1), (7, 1), (8, 1), (9, 1) }));
    }

    [TestCase(128, 32, false, 0)] // equal tiles: the grid's own order
    [TestCase(1, 32, true, 0)]
    [TestCase(128, 32, true, 9)] // ⌈4 · 132 · 2 / 128⌉
    [TestCase(8, 512, true, 132)]
    [TestCase(8, 100, true, 100)] // at most every unit
    public void TailUnitsFillTheSlotsFourTimes(int ranks, int units, bool causal, int expected)
        => Assert.That(TileOrder.TailUnits(ranks, units, causal, multiprocessors: 132, groupsPerMultiprocessor: 2), Is.EqualTo(expected));

    [TestCase(1024, 16, 32, 2)]
    [TestCase(4096, 4, 32, 2)]
    [TestCase(16384, 1, 32, 2)]
    [TestCase(8192, 2, 16, 2)]
    [TestCase(2048, 8, 16, 1)]
    public void CausalGridsEndOnShortTiles(int seqLen, int batch, int heads, int groupsPerSm)
    {
        // a causal forward's 128-row query blocks: rank r (longest first) does (ranks − r) · 2 key blocks of 64, plus a cost per group
        int ranks = seqLen / 128, units = batch * heads, slots = 132 * groupsPerSm;
        double Work(int rank) => (ranks - rank) * 2 + 3;
        double total = Enumerable.Range(0, ranks).Sum(Work) * units;
        double Makespan(int tailUnits)
        {
            var free = new PriorityQueue<double, double>();
            for (int s = 0; s < slots; s++) free.Enqueue(0, 0);
            double end = 0;
            for (int linear = 0; linear < ranks * units; linear++)
            {
                TileOrder.UnitOf(linear, ranks, units, tailUnits, out int rank);
                double start = free.Dequeue(), finish = start + Work(rank);
                free.Enqueue(finish, finish);
                end = Math.Max(end, finish);
            }
            return end / (total / slots);
        }
        double grid = Makespan(0), reordered = Makespan(TileOrder.TailUnits(ranks, units, true, 132, groupsPerSm));
        Assert.That(reordered, Is.LessThan(1.03), $"grid's order {grid:F3} of the work, reordered {reordered:F3}");
        Assert.That(reordered, Is.LessThan(grid));
    }
}
