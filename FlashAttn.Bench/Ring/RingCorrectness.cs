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
            DeviceTensor<T> Shard(T[] global) => DeviceTensor.Upload<T>(group.Device, SequenceShards.Gather<T>(global, positions, 1, h, d), 1, local, h, d);
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
            Compare("output", shards, r => r.Output, single.Output, h, d, relative: false, OutputBound),
            Compare("lse", shards, r => r.Lse, single.Lse, h, 1, relative: false, LseBound, AttentionLayout.BatchHeadSeqDim),
            Compare("dq", shards, r => r.Dq, single.Dq, h, d, relative: true, GradientBound),
            Compare("dk", shards, r => r.Dk, single.Dk, h, d, relative: true, GradientBound),
            Compare("dv", shards, r => r.Dv, single.Dv, h, d, relative: true, GradientBound),
        ]);
        foreach (var t in check.Tensors)
            progress.WriteLine($"check: {t.Name,-6} max|ring − single| {t.MaxAbsError:0.00E+0} (max|single| {t.MaxAbsReference:0.00E+0}, " +
                $"{(t.Relative ? "relative " : "")}error {t.Error:0.00E+0}, bound {t.Bound:0E+0}) {(t.Passed ? "ok" : "FAILED")}");
        return check;
    }

    /// <summary>One rank's results (or the single GPU's, positions empty), as host arrays.</summary>
    private sealed record Reference<T>(int[] Positions, T[] Output, float[] Lse, T[] Dq, T[] Dk, T[] Dv);

    /// <summary>Each shard against the single GPU's rows at the shard's positions (the log-sum-exp (b, h, s) as the
    /// (b, h, s, d) layout with head_dim 1).</summary>
    private static TensorComparison Compare<T, TValue>(string name, Reference<T>[] shards, Func<Reference<T>, TValue[]> select,
        TValue[] single, int heads, int headDim, bool relative, double bound, AttentionLayout layout = AttentionLayout.BatchSeqHeadDim)
        where T : unmanaged where TValue : unmanaged
    {
        var error = new MaxError();
        foreach (var shard in shards)
        {
            var values = select(shard);
            var expected = SequenceShards.Gather<TValue>(single, shard.Positions, 1, heads, headDim, layout);
            for (long i = 0; i < values.LongLength; i++) error.Add(DTypes.ToDouble(values[i]), DTypes.ToDouble(expected[i]));
        }
        return error.Result(name, relative, bound);
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

    /// <summary>Uniform values in [-1, 1) from <paramref name="seed"/>.</summary>
    private static T[] Random<T>(int length, int seed) where T : unmanaged
    {
        var random = new Random(seed);
        var values = new T[length];
        for (int i = 0; i < length; i++) values[i] = DTypes.FromDouble<T>(random.NextSingle() * 2 - 1);
        return values;
    }
}
