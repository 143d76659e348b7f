namespace FlashAttn.Tests.Kernels;

/// <summary>Storage dtype of a test case.</summary>
public enum AttentionDtype
{
    /// <summary>float.</summary>
    Fp32,
    /// <summary>System.Half.</summary>
    Fp16,
    /// <summary>FlashAttn.BFloat16.</summary>
    Bf16,
}
