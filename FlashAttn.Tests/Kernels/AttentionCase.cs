using FlashAttn.Kernels;

namespace FlashAttn.Tests.Kernels;

/// <summary>One row of the attention test table; WindowLeft/WindowRight: the sliding window (−1: unbounded); Fp32Math: how fp32
/// multiplies (exact FFMA or 3×TF32 on the tensor cores).</summary>
public sealed record AttentionCase(AttentionShape Shape, AttentionDtype Dtype, bool Causal, bool BottomRight, bool Deterministic, int Seed,
    int WindowLeft = -1, int WindowRight = -1, Fp32Math Fp32Math = Fp32Math.Exact)
{
    /// <summary>Settings with the default scale 1/√d.</summary>
    public AttentionSettings Settings => new(1f / MathF.Sqrt(Shape.HeadDim), Causal, BottomRight, Deterministic, WindowLeft, WindowRight,
        Fp32Math: Fp32Math);

    /// <inheritdoc/>
    public override string ToString()
        => $"b{Shape.Batch} sq{Shape.SeqLenQ} sk{Shape.SeqLenK} h{Shape.HeadsQ}/{Shape.HeadsKV} d{Shape.HeadDim} {Dtype}"
           + (Shape.Layout == AttentionLayout.BatchHeadSeqDim ? " bhsd" : "")
           + (Causal ? (BottomRight ? " causal-br" : " causal-tl") : "") + (Deterministic ? " det" : "")
           + (WindowLeft >= 0 || WindowRight >= 0 ? $" window({WindowLeft},{WindowRight}){(Causal ? "" : BottomRight ? "-br" : "-tl")}" : "")
           + (Fp32Math == Fp32Math.TensorCores ? " 3xtf32" : "");
}
