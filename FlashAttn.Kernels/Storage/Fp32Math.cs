namespace FlashAttn;

/// <summary>How fp32 attention multiplies on the GPU (fp16 and bf16 always use the tensor cores; the CPU path is exact).</summary>
public enum Fp32Math
{
    /// <summary>
    /// The default: per pass and head dim, whichever of <see cref="Exact"/> and <see cref="TensorCores"/> was measured
    /// faster (both meet the fp32 accuracy rule against fp64). On a GPU with tensor cores for tf32 (sm_80 and newer) that is
    /// <see cref="TensorCores"/> for every forward and for backwards up to head dim 64, <see cref="Exact"/> for backwards
    /// above; on the CPU accelerator and older GPUs <see cref="Exact"/>. docs/performance.md has the measurements.
    /// </summary>
    Auto = 0,

    /// <summary>Exact fp32 products on the FFMA pipe (IEEE fp32 rounding throughout).</summary>
    Exact = 1,

    /// <summary>
    /// fp32 on the tensor cores with fp32 accuracy (3×TF32): each operand is split into two tf32 parts and every product
    /// is the sum of three tensor-core products (high·high + high·low + low·high), accumulating in fp32. Operands carry 21–22
    /// of fp32's 24 significant bits, results stay within a small multiple of exact fp32's error (checked against fp64 in
    /// the tests and against PyTorch's fp64 oracle on the GPU), on hardware whose tf32 rate is many times its fp32 FMA rate
    /// (sm_80 and newer).
    /// </summary>
    TensorCores = 2,
}
