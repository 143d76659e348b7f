using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// Which tile a group of a (ranks, heads, sequences) grid takes: the one place the order is chosen. The hardware starts
/// groups in linear order, x fastest, as slots free up. A unit (head, sequence) ranks its tiles longest first (the forward's
/// last query block, the backward's first key block), and its ranks run together so that they share the unit's K and V (or
/// Q and dO) in L2. Under a causal mask a unit's first rank does a whole row of blocks and its last one block: in that
/// order the last units' longest tiles start near the end of the grid and run on alone while the other slots idle (a list
/// schedule of the H100's 132 or 264 slots: 3–14% longer than the work). So the last <see cref="TailUnits"/> units go
/// rank-major instead, every unit's longest tile before any unit's next (longest processing time first): the grid ends on
/// short tiles (the same schedule: 0.3–2% over the work), and only those last units read their K and V from L2 fewer
/// times together. H100, interleaved A/B: causal forward +5.5%, backward +2.0% (geometric means, d = 64/96/128 × s = 1k–16k).
/// It costs the causal kernels registers: the order's indices are values ptxas keeps, where it re-reads <c>%ctaid</c>
/// (ptxas 11.8, causal d' = 256 backward: 242 → 252); without a mask it folds away.
/// </summary>
internal readonly struct TileOrder
{
    /// <summary>The tile's rank within its unit (0: the longest), the grid's x before reordering.</summary>
    public readonly int Rank;

    /// <summary>The unit's head index (the grid's y).</summary>
    public readonly int Y;

    /// <summary>The unit's sequence index (the grid's z).</summary>
    public readonly int Z;

    private TileOrder(int rank, int y, int z) { Rank = rank; Y = y; Z = z; }

    /// <summary>The running group's tile, the last <paramref name="tailUnits"/> units of the grid taken rank-major where the tiles'
    /// work is <paramref name="unequal"/> (the kernels' causal specialization, a compile-time constant: without it the order
    /// folds to the grid's own and no register holds it); <paramref name="tailUnits"/> 0: the grid's own order.</summary>
    public static TileOrder Current(bool unequal, int tailUnits)
    {
        int tail = unequal ? tailUnits : 0;
        if (tail <= 0) return new(Grid.IdxX, Grid.IdxY, Grid.IdxZ);
        int heads = Grid.DimY;
        int linear = Grid.IdxX + Grid.DimX * (Grid.IdxY + heads * Grid.IdxZ);
        int unit = UnitOf(linear, Grid.DimX, heads * Grid.DimZ, tail, out int rank);
        return new(rank, unit % heads, unit / heads);
    }

    /// <summary>The unit (y + heads · z) and <paramref name="rank"/> of the group started <paramref name="linear"/>-th in a grid of
    /// <paramref name="ranks"/> × <paramref name="units"/>: unit-major, the last <paramref name="tailUnits"/> units rank-major.</summary>
    public static int UnitOf(int linear, int ranks, int units, int tailUnits, out int rank)
    {
        int tailStart = (units - tailUnits) * ranks;
        if (linear < tailStart)
        {
            rank = linear % ranks;
            return linear / ranks;
        }
        int r = linear - tailStart;
        rank = r / tailUnits;
        return units - tailUnits + r % tailUnits;
    }

    /// <summary>
    /// The units to take rank-major for a grid of <paramref name="ranks"/> tiles per unit and <paramref name="units"/> units
    /// whose tiles' work falls with their rank (<paramref name="unequal"/>: a causal mask), on <paramref name="multiprocessors"/>
    /// SMs with <paramref name="groupsPerMultiprocessor"/> groups each: enough that the last units' tiles fill the slots four
    /// times over (the list schedule above is within 1–2% of the work from two to eight times); 0 for equal tiles, whose order
    /// changes no schedule.
    /// </summary>
    public static int TailUnits(int ranks, int units, bool unequal, int multiprocessors, int groupsPerMultiprocessor)
        => !unequal || ranks <= 1 ? 0 : Math.Min(units, (4 * multiprocessors * groupsPerMultiprocessor + ranks - 1) / ranks);
}
