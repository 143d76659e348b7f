using System.Numerics;
using FlashAttn.Compute;

namespace FlashAttn.Tests.Compute.Corpus;

/// <summary>Corpus kernels: shared memory, barriers, warp shuffles, atomics.</summary>
internal static partial class Kernels
{
    public const int TransposeTile = 32;
    public const int TransposeRows = 8;

    /// <summary>32×32 tiles through shared memory padded by one column (no bank conflicts); 32×8 threads.</summary>
    public static void TiledTranspose(ArrayView<float> input, ArrayView<float> output, int rows, int columns)
    {
        var tile = SharedMemory.Allocate<float>(TransposeTile * (TransposeTile + 1));
        int x = Grid.IdxX * TransposeTile + Group.IdxX;
        int y = Grid.IdxY * TransposeTile + Group.IdxY;
        for (int j = 0; j < TransposeTile; j += TransposeRows)
            if (x < columns && y + j < rows)
                tile[(Group.IdxY + j) * (TransposeTile + 1) + Group.IdxX] = input[(y + j) * columns + x];
        Group.Barrier();
        x = Grid.IdxY * TransposeTile + Group.IdxX;
        y = Grid.IdxX * TransposeTile + Group.IdxY;
        for (int j = 0; j < TransposeTile; j += TransposeRows)
            if (x < rows && y + j < columns)
                output[(y + j) * rows + x] = tile[Group.IdxX * (TransposeTile + 1) + Group.IdxY + j];
    }

    public const int AsyncRows = 16, AsyncRowFloats = 32;

    /// <summary>
    /// cp.async staging of a (rows × 32) fp32 tile, as the attention kernels stage K and V: 16-byte chunks, rows past
    /// <paramref name="validRows"/> zero-filled without reading; then every thread reads another thread's chunk
    /// (reversed row order) after WaitAll and the barrier, so a missing wait or barrier shows as wrong data.
    /// </summary>
    public static void AsyncTileCopy(ArrayView<float> input, ArrayView<float> output, int validRows)
    {
        var tile = SharedMemory.Allocate<float>(AsyncRows * AsyncRowFloats);
        int first = Grid.IdxX * AsyncRows * AsyncRowFloats;
        for (int chunk = Group.IdxX; chunk < AsyncRows * AsyncRowFloats / 4; chunk += Group.DimX)
        {
            int row = chunk / (AsyncRowFloats / 4), column = 4 * (chunk % (AsyncRowFloats / 4));
            bool fetch = row < validRows;
            AsyncCopy.Copy16(ref tile[row * AsyncRowFloats + column], ref input[fetch ? first + row * AsyncRowFloats + column : first], fetch);
        }
        AsyncCopy.WaitAll();
        Group.Barrier();
        for (int e = Group.IdxX; e < AsyncRows * AsyncRowFloats; e += Group.DimX)
        {
            int row = e / AsyncRowFloats, column = e % AsyncRowFloats;
            output[first + e] = tile[(AsyncRows - 1 - row) * AsyncRowFloats + column] * 2f;
        }
    }

    public const int ReductionGroupSize = 256;

    /// <summary>Tree reduction in shared memory: one partial sum per group.</summary>
    public static void BlockReduction(ArrayView<float> input, ArrayView<float> partialSums)
    {
        var scratch = SharedMemory.Allocate<float>(ReductionGroupSize);
        int tid = Group.IdxX;
        int i = Grid.GlobalIndexX;
        scratch[tid] = i < input.Length ? input[i] : 0f;
        Group.Barrier();
        for (int stride = ReductionGroupSize / 2; stride > 0; stride >>= 1)
        {
            if (tid < stride) scratch[tid] += scratch[tid + stride];
            Group.Barrier();
        }
        if (tid == 0) partialSums[Grid.IdxX] = scratch[0];
    }

    public static void WarpShuffles(ArrayView<float> input, ArrayView<float> byIndex, ArrayView<float> byXor, ArrayView<int> up, ArrayView<int> down)
    {
        int i = Grid.GlobalIndexX;
        float v = input[i];
        int lane = Warp.LaneIdx;
        byIndex[i] = Warp.Shuffle(v, (lane * 7 + 3) & 31);
        byXor[i] = Warp.ShuffleXor(v, 5);
        up[i] = Warp.ShuffleUp(i * 3, 3);
        down[i] = Warp.ShuffleDown(i * 5, 6);
    }

    public static void WarpReductions(ArrayView<float> input, ArrayView<float> sums, ArrayView<float> maxima, ArrayView<int> scans)
    {
        int i = Grid.GlobalIndexX;
        float v = input[i];
        float sum = Warp.Sum(v);
        float max = Warp.Max(v);
        int scan = Warp.InclusiveScan((int)(v * 100f));
        if (Warp.LaneIdx == 0)
        {
            sums[i / Warp.Size] = sum;
            maxima[i / Warp.Size] = max;
        }
        scans[i] = scan;
    }

    /// <summary>The integer warp reductions (redux.sync on sm_80 and newer), every lane's result stored.</summary>
    public static void WarpIntegerReductions(ArrayView<int> input, ArrayView<int> sums, ArrayView<int> minima, ArrayView<int> maxima,
        ArrayView<int> ors)
    {
        int i = Grid.GlobalIndexX;
        int v = input[i];
        sums[i] = Warp.Sum(v);
        minima[i] = Warp.Min(v);
        maxima[i] = Warp.Max(v);
        ors[i] = Warp.Or(v & (0x11 << (Warp.LaneIdx % 8))); // sparse bits, so that the or differs from the sum
    }

    /// <summary>A ballot of each lane's lowest bit, and the bit counts of each value (BitOperations: 32-bit, then of the value
    /// times an odd 64-bit constant).</summary>
    public static void BallotAndBitCounts(ArrayView<int> input, ArrayView<int> ballots, ArrayView<int> trailing, ArrayView<int> leading,
        ArrayView<int> population)
    {
        int i = Grid.GlobalIndexX;
        int v = input[i];
        ballots[i] = (int)Warp.Ballot((v & 1) != 0);
        trailing[i] = BitOperations.TrailingZeroCount((uint)v);
        leading[i] = BitOperations.LeadingZeroCount((uint)v);
        population[i] = BitOperations.PopCount((uint)v) + BitOperations.TrailingZeroCount(v >> 3);
        ulong wide = (ulong)(long)v * 0x9E37_79B9_7F4A_7C15UL;
        population[i] += 1000 * (BitOperations.PopCount(wide) + 100 * BitOperations.TrailingZeroCount((long)wide))
            + 1_000_000 * BitOperations.LeadingZeroCount(wide >> (v & 63));
    }

    public static void AtomicHistogram(ArrayView<int> values, ArrayView<int> bins)
    {
        int i = Grid.GlobalIndexX;
        if (i < values.Length) Atomic.Add(ref bins[(values[i] & 0x7FFFFFFF) % bins.Length], 1);
    }

    public static void AtomicFloatSum(ArrayView<float> values, ArrayView<float> total)
    {
        int i = Grid.GlobalIndexX;
        if (i < values.Length) Atomic.Add(ref total[0], values[i]);
    }

    /// <summary>Thread i adds its four values to slot i % (totals.Length / 4): many threads meet in each slot.</summary>
    public static void AtomicFourFloatSum(ArrayView<float> values, ArrayView<float> totals)
    {
        int i = Grid.GlobalIndexX;
        if (4 * i + 3 >= values.Length) return;
        int slot = i % (int)(totals.Length / 4);
        Atomic.AddFour(ref totals[4 * slot], values[4 * i], values[4 * i + 1], values[4 * i + 2], values[4 * i + 3]);
    }

    public static void AtomicTwoFloatSum(ArrayView<float> values, ArrayView<float> totals)
    {
        int i = Grid.GlobalIndexX;
        if (2 * i + 1 >= values.Length) return;
        int slot = i % (int)(totals.Length / 2);
        Atomic.AddTwo(ref totals[2 * slot], values[2 * i], values[2 * i + 1]);
    }

    public static void AtomicMaxAndCompareExchange(ArrayView<int> values, ArrayView<int> maximum, ArrayView<int> counter, ArrayView<int> minimum)
    {
        int i = Grid.GlobalIndexX;
        if (i >= values.Length) return;
        Atomic.Max(ref maximum[0], values[i]);
        Atomic.Min(ref minimum[0], values[i]);
        // Increment through a compare-exchange loop.
        int seen = counter[0];
        while (true)
        {
            int previous = Atomic.CompareExchange(ref counter[0], seen, seen + 1);
            if (previous == seen) break;
            seen = previous;
        }
    }

    /// <summary>Shared-memory atomics and barrier reductions.</summary>
    public static void SharedAtomicsAndBarrierVotes(ArrayView<int> values, ArrayView<int> result)
    {
        var count = SharedMemory.Allocate<int>(1);
        if (Group.IdxX == 0) count[0] = 0;
        Group.Barrier();
        int v = values[Grid.GlobalIndexX];
        if (v > 0) Atomic.Add(ref count[0], 1);
        int positives = Group.BarrierPopCount(v > 0);
        bool all = Group.BarrierAnd(v > -2000);
        bool any = Group.BarrierOr(v > 990);
        if (Group.IdxX == 0)
        {
            result[Grid.IdxX * 4 + 0] = count[0];
            result[Grid.IdxX * 4 + 1] = positives;
            result[Grid.IdxX * 4 + 2] = all ? 1 : 0;
            result[Grid.IdxX * 4 + 3] = any ? 1 : 0;
        }
    }

    /// <summary>Uses the launch's dynamic shared memory: reverses each group's slice.</summary>
    public static void DynamicSharedReverse(ArrayView<float> input, ArrayView<float> output)
    {
        var buffer = SharedMemory.GetDynamic<float>();
        int tid = Group.IdxX, n = Group.DimX;
        buffer[tid] = input[Grid.IdxX * n + tid];
        Group.Barrier();
        output[Grid.IdxX * n + tid] = buffer[n - 1 - tid] + buffer.Length;
    }

    public const int HandoffRounds = 5, HandoffValues = 64;

    /// <summary>
    /// A one-stage producer–consumer ring on two mbarriers over <see cref="HandoffRounds"/> rounds: warp 0 fills the stage
    /// (after the consumers released it: the "empty" barrier's previous phase), and arrives on "full", lane 0 announcing 8
    /// transaction bytes it then completes itself; the other warps wait for "full"'s phase of the round's parity, read the
    /// stage, and arrive on "empty". A wrong phase, a lost arrival or an unordered read shows as wrong data (or a hang,
    /// which the CPU turns into a failure). With <paramref name="bulk"/> lane 0 announces the round's 256 bytes and has the
    /// copy engine load them (<see cref="BulkCopy.Load{T}"/>), completing them on "full", instead of the warp's stores.
    /// </summary>
    public static void MBarrierHandoff(ArrayView<int> input, ArrayView<int> output, SpecializedValue<bool> bulk)
    {
        var barriers = SharedMemory.Allocate<ulong>(2);
        var stage = SharedMemory.Allocate<int>(HandoffValues);
        int warp = Group.IdxX / 32, lane = Warp.LaneIdx, consumers = Group.DimX - 32;
        if (Group.IdxX == 0)
        {
            MBarrier.Init(ref barriers[0], 32);
            MBarrier.Init(ref barriers[1], consumers);
        }
        Group.Barrier();
        for (int round = 0; round < HandoffRounds; round++)
        {
            int parity = round & 1;
            if (warp == 0)
            {
                if (round > 0) MBarrier.WaitParity(ref barriers[1], parity ^ 1);
                if (bulk.Value)
                {
                    if (lane == 0)
                    {
                        MBarrier.ArriveExpectTransaction(ref barriers[0], HandoffValues * sizeof(int));
                        BulkCopy.Load(ref stage[0], ref input[round * HandoffValues], HandoffValues * sizeof(int), ref barriers[0]);
                    }
                    else MBarrier.Arrive(ref barriers[0]);
                    continue;
                }
                for (int e = lane; e < HandoffValues; e += 32) stage[e] = input[round * HandoffValues + e];
                if (lane == 0)
                {
                    MBarrier.ArriveExpectTransaction(ref barriers[0], 8);
                    MBarrier.CompleteTransaction(ref barriers[0], 8);
                }
                else MBarrier.Arrive(ref barriers[0]);
            }
            else
            {
                MBarrier.WaitParity(ref barriers[0], parity);
                int consumer = Group.IdxX - 32;
                output[round * consumers + consumer] = stage[consumer % HandoffValues] + stage[(consumer + 7) % HandoffValues];
                MBarrier.Arrive(ref barriers[1]);
            }
        }
    }
}
