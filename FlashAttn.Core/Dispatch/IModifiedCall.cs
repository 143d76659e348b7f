using FlashAttn.Kernels;

namespace FlashAttn.Dispatch;

/// <summary>
/// A kernel call waiting for its modifiers' types: <see cref="BuiltInModifiers.Compose"/> decides at run time which
/// built-ins (softcap, ALiBi) join the caller's modifiers, and hands the resulting compile-time type here.
/// </summary>
internal interface IModifiedCall
{
    /// <summary>The device the call runs on (the modifiers' block mask must be on it).</summary>
    Device Device { get; }

    /// <summary>The call's tensors are fp16 or bf16: the built-in softcap takes the hardware tanh
    /// (<see cref="HardwareTanhSoftcap"/>), within those dtypes' error.</summary>
    bool HalfPrecision { get; }

    /// <summary>Launches the call with <paramref name="modifiers"/>.</summary>
    void Run<TScore, TMask>(AttentionModifiers<TScore, TMask> modifiers) where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier;
}
