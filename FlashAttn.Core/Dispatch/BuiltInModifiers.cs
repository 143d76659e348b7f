using FlashAttn.Kernels;

namespace FlashAttn.Dispatch;

/// <summary>
/// Joins the built-in score modifiers of <see cref="AttentionOptions"/> to a caller's modifiers, in flash-attn's order:
/// <see cref="AttentionOptions.Softcap"/> first, then <see cref="AttentionOptions.AlibiSlopes"/>, then the caller's score
/// modifier (f = user ∘ alibi ∘ softcap); a softcap alone in units of its cap (<see cref="SoftcapInCapUnits"/>). Plain calls keep
/// <see cref="NoScoreModifier"/>, so their kernels stay plain.
/// </summary>
internal static class BuiltInModifiers
{
    /// <summary>Runs <paramref name="call"/> with <paramref name="user"/> preceded by the built-ins <paramref name="options"/> asks for,
    /// after checking the block mask's device and life (<see cref="BlockMaskTensor.CheckUsable"/>).</summary>
    public static void Compose<TScore, TMask, TCall>(AttentionOptions options, int headsQ, AttentionModifiers<TScore, TMask> user, TCall call)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier where TCall : struct, IModifiedCall
    {
        BlockMaskTensor.CheckUsable(user.Blocks, call.Device);
        Alibi? alibi = options.AlibiSlopes is { } slopes ? new Alibi(slopes.View, headsQ, perBatch: slopes.Rank == 2) : null;
        if (options.Softcap is float cap)
        {
            // fp16/bf16: the hardware tanh, as flash-attn (within those dtypes' error); fp32 keeps the accurate one. Alone, in
            // units of the cap (the kernels' scales take 1/cap and cap: a score costs its tanh alone)
            if (alibi is null && typeof(TScore) == typeof(NoScoreModifier))
            {
                if (call.HalfPrecision) call.Run(SoftcapInCapUnits.Hardware(cap, user.Mask, user.Blocks));
                else call.Run(SoftcapInCapUnits.Accurate(cap, user.Mask, user.Blocks));
            }
            else if (call.HalfPrecision) WithAlibi(new HardwareTanhSoftcap(cap), alibi, user, call);
            else WithAlibi(new Softcap(cap), alibi, user, call);
        }
        else if (alibi is { } a) Before(a, user, call);
        else call.Run(user);
    }

    /// <summary><paramref name="softcap"/>, then <paramref name="alibi"/> when there is one, then the caller's score modifier.</summary>
    private static void WithAlibi<TSoftcap, TScore, TMask, TCall>(TSoftcap softcap, Alibi? alibi, AttentionModifiers<TScore, TMask> user, TCall call)
        where TSoftcap : struct, IScoreModifier where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        where TCall : struct, IModifiedCall
    {
        if (alibi is { } a) Before(new ComposedScoreModifier<TSoftcap, Alibi>(softcap, a), user, call);
        else Before(softcap, user, call);
    }

    /// <summary><paramref name="builtIn"/> then the caller's score modifier (just the built-in when the caller has none).</summary>
    private static void Before<TBuiltIn, TScore, TMask, TCall>(TBuiltIn builtIn, AttentionModifiers<TScore, TMask> user, TCall call)
        where TBuiltIn : struct, IScoreModifier where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        where TCall : struct, IModifiedCall
    {
        if (typeof(TScore) == typeof(NoScoreModifier)) call.Run(new AttentionModifiers<TBuiltIn, TMask>(builtIn, user.Mask, user.Blocks));
        else call.Run(new AttentionModifiers<ComposedScoreModifier<TBuiltIn, TScore>, TMask>(new(builtIn, user.Score), user.Mask, user.Blocks));
    }
}
