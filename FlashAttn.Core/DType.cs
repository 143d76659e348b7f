namespace FlashAttn;

/// <summary>Element type of a <see cref="DeviceTensor"/>.</summary>
public enum DType
{
    /// <summary>IEEE 754 binary32 (<see cref="float"/>).</summary>
    Float32,
    /// <summary>IEEE 754 binary16 (<see cref="System.Half"/>).</summary>
    Float16,
    /// <summary>bfloat16 (<see cref="FlashAttn.BFloat16"/>): float32's exponent, 7-bit mantissa.</summary>
    BFloat16,
    /// <summary>32-bit signed integer (<see cref="int"/>): the index tensors of varlen and KV-cache calls (cu_seqlens,
    /// cache lengths, batch indices, block tables); never accepted as q, k or v.</summary>
    Int32,
}
