using FlashAttn.Bench.Results;
using FlashAttn.Kernels;

namespace FlashAttn.Bench.Memory;

/// <summary>
/// Device bytes of attention, ours and naive, per pass. Ours: every buffer the public API holds during the pass
/// (the caller's inputs, the outputs it allocates, the backward's own workspace, read from
/// <see cref="AttentionLauncher.BackwardWorkspaceBytes"/>); nothing grows with s_q·s_k.
/// </summary>
internal static class MemoryAccounting
{
    /// <summary>Bytes of the log-sum-exp's elements (always fp32).</summary>
    private const int LseElementBytes = sizeof(float);

    /// <summary>Our formula, as the results' notes state it (e = bytes per element, N = b·s·h·d).</summary>
    public const string OursFormula =
        "ours fwd = q, k, v, out (4·N·e) + lse (b·h·s_q·4); ours fwd+bwd = fwd + dO, dq, dk, dv (4·N·e) + the backward's fp32 workspace " +
        "(AttentionLauncher.BackwardWorkspaceBytes: b·h·s_q·4, plus N·4 + 2·b·s_k·h_q·d·4 unless fp32 without GQA, whose gradients " +
        "accumulate in place); N = b·s·h·d, e = bytes per element";

    /// <summary>The naive formula, as the results' notes state it.</summary>
    public const string NaiveFormula =
        "naive fwd = q, k, v, out (4·N·e) + scores S and probabilities P (2·b·h·s_q·s_k·e); naive fwd+bwd = q, k, v, out, dO, dq, dk, dv (8·N·e) " +
        "+ S, P, dP, dS (4·b·h·s_q·s_k·e); in the dtype";

    /// <summary>One device buffer of a pass.</summary>
    /// <param name="Name">What it holds.</param>
    /// <param name="Bytes">Its size.</param>
    public readonly record struct Buffer(string Name, long Bytes);

    /// <summary>The buffers the API holds during <paramref name="pass"/> (forward and backward together for the backward passes).</summary>
    public static IReadOnlyList<Buffer> Buffers(AttentionPass pass, AttentionShape shape, AttentionSettings settings, int elementBytes)
    {
        long q = (long)shape.Batch * shape.SeqLenQ * shape.HeadsQ * shape.HeadDim * elementBytes;
        long kv = (long)shape.Batch * shape.SeqLenK * shape.HeadsKV * shape.HeadDim * elementBytes;
        long lse = (long)shape.Batch * shape.HeadsQ * shape.SeqLenQ * LseElementBytes;
        List<Buffer> buffers = [new("q", q), new("k", kv), new("v", kv), new("output", q), new("lse", lse)];
        if (pass != AttentionPass.Forward)
            buffers.AddRange([new("dOut", q), new("dq", q), new("dk", kv), new("dv", kv),
                new("backward workspace", AttentionLauncher.BackwardWorkspaceBytes(shape, settings, elementBytes))]);
        return buffers;
    }

    /// <summary>Our peak bytes for <paramref name="pass"/>: the sum of <see cref="Buffers"/>.</summary>
    public static long Ours(AttentionPass pass, AttentionShape shape, AttentionSettings settings, int elementBytes)
        => Buffers(pass, shape, settings, elementBytes).Sum(b => b.Bytes);

    /// <summary>Naive attention's bytes for <paramref name="pass"/> (<see cref="NaiveFormula"/>).</summary>
    public static long Naive(AttentionPass pass, AttentionShape shape, int elementBytes)
    {
        long q = (long)shape.Batch * shape.SeqLenQ * shape.HeadsQ * shape.HeadDim;
        long kv = (long)shape.Batch * shape.SeqLenK * shape.HeadsKV * shape.HeadDim;
        long scores = (long)shape.Batch * shape.HeadsQ * shape.SeqLenQ * shape.SeqLenK;
        bool backward = pass != AttentionPass.Forward;
        long tensors = backward ? 4 * q + 4 * kv : 2 * q + 2 * kv;
        long matrices = (backward ? 4 : 2) * scores;
        return (tensors + matrices) * elementBytes;
    }
}
