using FlashAttn.Distributed;

namespace FlashAttn.Bench.Ring;

/// <summary>
/// The ring against one GPU: random global q, k, v and dOut (uniform in [-1, 1), never zeros) go whole to GPU 0 for
/// single-device causal attention forward + backward, and sharded by <see cref="ContextParallel.Positions"/> to the
/// ranks for the ring; each rank's output, log-sum-exp and gradients are compared at their global positions.
/// </summary>
internal static class RingCorrectness
{
    /// <summary>Bound on max |ring − single| of the output (fp16/bf16 values of magnitude ≤ 1).</summary>
    public const double OutputBound = 2e-2;

    /// <summary>Bound on max |ring − single| of the log-sum-exp (fp32 on both sides).</summary>
    public const double LseBound = 1e-2;

    /// <summary>Bound on max |ring − single| / max |single| of dq, dk and dv.</summary>
    public const double GradientBound = 2e-2;

    /// <summary>The bounds, for the notes.</summary>
    public const string BoundsNote = "correctness: the ring's output, lse, dq, dk, dv scattered back to global positions against single-GPU " +
        "FlashAttention.Forward/Backward on GPU 0 over the same global inputs (uniform in [-1, 1)); passes when finite and " +
        "max|ring − single| ≤ 2e-2 (output), ≤ 1e-2 (lse), max|ring − single| / max|single| ≤ 2e-2 (dq, dk, dv)";

    /// <summary>Runs both and compares.</summary>
    /// <exception cref="RankFailure">A rank of the ring failed.</exception>
    public static RingCheck Run<T>(RingRanks ranks, RingOptions options, TextWriter progress) where T : unmanaged
    {
        int s = options.CheckTokens, h = options.Heads, d = options.HeadDim, n = ranks.Count;
        int row = h * d;
        var attention = new AttentionOptions { Causal = true, ReturnLse = true };
        T[] q = Random<T>(s * row, 101), k = Random<T>(s * row, 102), v = Random<T>(s * row, 103), dOut = Random<T>(s * row, 104);

        progress.WriteLine($"check: single-GPU forward + backward at S={s} on {ranks.Gpus[0].Name}");
        var device = ranks.Gpus[0];
        Reference<T> single;
        using (var tq = DeviceTensor.Upload<T>(device, q, 1, s, h, d))
        using (var tk = DeviceTensor.Upload<T>(device, k, 1, s, h, d))
        using (var tv = DeviceTensor.Upload<T>(device, v, 1, s, h, d))
        using (var tdOut = DeviceTensor.Upload<T>(device, dOut, 1, s, h, d))
        using (var forward = FlashAttention.Forward(tq, tk, tv, attention))
        using (var grads = FlashAttention.Backward(tdOut, tq, tk, tv, forward.Output, forward.Lse!, attention))
            single = new Reference<T>([], forward.Output.ToArray(), forward.Lse!.ToArray(), grads.DQ.ToArray(), grads.DK.ToArray(), grads.DV.ToArray());
        ranks.ReleaseCachedMemory();

        progress.WriteLine($"check: ring forward + backward at S={s} over {n} ranks ({s / n} tokens each)");
        var shards = ranks.WithGroups(groups => RingRanks.OnEveryRank(groups, (group, barrier) =>
        {
            var parallel = new ContextParallel(group);
            int[] positions = parallel.LocalPositions(s);
            int local = positions.Length;
            DeviceTensor<T> Shard(T[] global) => DeviceTensor.Upload<T>(group.Device, Gather(global, positions, row), 1, local, h, d);
            using var sq = Shard(q);
            using var sk = Shard(k);
            using var sv = Shard(v);
            using var sdOut = Shard(dOut);
            barrier.Wait(); // every rank holds its shards: none enters the ring alone
            using var forward = FlashAttention.Forward(sq, sk, sv, attention, parallel);
            using var grads = FlashAttention.Backward(sdOut, sq, sk, sv, forward.Output, forward.Lse!, attention, parallel);
            return new Reference<T>(positions, forward.Output.ToArray(), forward.Lse!.ToArray(), grads.DQ.ToArray(), grads.DK.ToArray(),
                grads.DV.ToArray());
        }), progress);

        var check = new RingCheck(s,
        [
            Compare("output", shards, r => r.Output, single.Output, row, relative: false, OutputBound),
            CompareLse(shards, single.Lse, s, h),
            Compare("dq", shards, r => r.Dq, single.Dq, row, relative: true, GradientBound),
            Compare("dk", shards, r => r.Dk, single.Dk, row, relative: true, GradientBound),
            Compare("dv", shards, r => r.Dv, single.Dv, row, relative: true, GradientBound),
        ]);
        foreach (var t in check.Tensors)
            progress.WriteLine($"check: {t.Name,-6} max|ring − single| {t.MaxAbsError:0.00E+0} (max|single| {t.MaxAbsReference:0.00E+0}, " +
                $"{(t.Relative ? "relative " : "")}error {t.Error:0.00E+0}, bound {t.Bound:0E+0}) {(t.Passed ? "ok" : "FAILED")}");
        return check;
    }

    /// <summary>One rank's results (or the single GPU's, positions empty), as host arrays.</summary>
    private sealed record Reference<T>(int[] Positions, T[] Output, float[] Lse, T[] Dq, T[] Dk, T[] Dv);

    /// <summary>A (b, s, h, d) tensor's rows: each shard row is <paramref name="row"/> elements at its global position.</summary>
    private static TensorComparison Compare<T>(string name, Reference<T>[] shards, Func<Reference<T>, T[]> select, T[] single, int row,
        bool relative, double bound) where T : unmanaged
    {
        var error = new MaxError();
        foreach (var shard in shards)
        {
            var values = select(shard);
            for (int i = 0; i < shard.Positions.Length; i++)
            {
                long at = (long)shard.Positions[i] * row;
                for (int j = 0; j < row; j++) error.Add(DTypes.ToDouble(values[(long)i * row + j]), DTypes.ToDouble(single[at + j]));
            }
        }
        return error.Result(name, relative, bound);
    }

    /// <summary>The log-sum-exp, (b, h, s): rank-local index i of head j at j·(s/n) + i, globally at j·s + position.</summary>
    private static TensorComparison CompareLse<T>(Reference<T>[] shards, float[] single, int s, int heads) where T : unmanaged
    {
        var error = new MaxError();
        foreach (var shard in shards)
        {
            int local = shard.Positions.Length;
            for (int head = 0; head < heads; head++)
                for (int i = 0; i < local; i++)
                    error.Add(shard.Lse[(long)head * local + i], single[(long)head * s + shard.Positions[i]]);
        }
        return error.Result("lse", relative: false, LseBound);
    }

    /// <summary>Running max |ours − reference| and max |reference|; a non-finite value on either side makes the error NaN.</summary>
    private sealed class MaxError
    {
        private double _error, _reference;
        private bool _nonFinite;

        public void Add(double ours, double reference)
        {
            if (!double.IsFinite(ours) || !double.IsFinite(reference)) _nonFinite = true;
            else
            {
                _error = Math.Max(_error, Math.Abs(ours - reference));
                _reference = Math.Max(_reference, Math.Abs(reference));
            }
        }

        public TensorComparison Result(string name, bool relative, double bound)
            => new(name, _nonFinite ? double.NaN : _error, _reference, relative, bound);
    }

    /// <summary>The rows at <paramref name="positions"/> of a (1, s, h, d) array, in that order.</summary>
    private static T[] Gather<T>(T[] global, int[] positions, int row)
    {
        var local = new T[(long)positions.Length * row];
        for (int i = 0; i < positions.Length; i++) Array.Copy(global, (long)positions[i] * row, local, (long)i * row, row);
        return local;
    }

    /// <summary>Uniform values in [-1, 1) from <paramref name="seed"/>.</summary>
    private static T[] Random<T>(int length, int seed) where T : unmanaged
    {
        var random = new Random(seed);
        var values = new T[length];
        for (int i = 0; i < length; i++) values[i] = DTypes.FromDouble<T>(random.NextSingle() * 2 - 1);
        return values;
    }
}
