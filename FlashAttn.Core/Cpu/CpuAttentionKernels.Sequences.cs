using System.Collections.Concurrent;

namespace FlashAttn.Cpu;

internal sealed partial class CpuAttentionKernels
{
    /// <summary>
    /// Runs <paramref name="run"/> for each of <paramref name="count"/> sequences. When no sequence is more than a
    /// worker's fair share of the work, the sequences run side by side, largest first, each on one worker (many short
    /// sequences, e.g. decoding: one sequence could not fill the workers); otherwise one after another, each spread
    /// over all workers.
    /// </summary>
    private void ForEachSequence(int count, Func<int, long> work, Action<int, ParallelOptions> run)
    {
        var costs = new long[count];
        long total = 0, largest = 0;
        for (int i = 0; i < count; i++)
        {
            costs[i] = work(i);
            total += costs[i];
            largest = Math.Max(largest, costs[i]);
        }
        if (Threads > 1 && count > 1 && largest * Threads <= total)
        {
            var order = Enumerable.Range(0, count).OrderByDescending(i => costs[i]).ToArray();
            Parallel.ForEach(Partitioner.Create(order, loadBalance: true), _parallel, i => run(i, _serial));
            return;
        }
        for (int i = 0; i < count; i++) run(i, _parallel);
    }

    /// <summary>The dense problem of one sequence: a batch of one with its own lengths and the call's heads and settings.</summary>
    private static Dispatch.AttentionProblem SequenceProblem(Kernels.AttentionSettings settings, int seqLenQ, int seqLenK,
        int headsQ, int headsKv, int headDim)
        => new(1, seqLenQ, seqLenK, headsQ, headsKv, headDim, settings.Scale, settings.Causal, settings.CausalBottomRight,
            settings.Deterministic, settings.WindowLeft, settings.WindowRight, settings.Dropout);

    /// <summary>Lengths read from index tensors are clamped as the GPU kernels clamp them (<c>SequenceBounds.Clamp</c>), so bad
    /// indices give wrong rows but never an access outside a tensor.</summary>
    private static int Clamp(int value, int low, int high) => Math.Max(low, Math.Min(value, high));
}
