using FlashAttn.Kernels;

namespace FlashAttn.Dispatch;

/// <summary>
/// Joins the built-in score modifiers of <see cref="AttentionOptions"/> to a caller's modifiers, in flash-attn's order:
/// <see cref="AttentionOptions.Softcap"/> first, then <see cref="AttentionOptions.AlibiSlopes"/>, then the caller's score
/// modifier (f = user ∘ alibi ∘ softcap). Plain calls keep <see cref="NoScoreModifier"/>, so their kernels stay plain.
/// </summary>
internal static class BuiltInModifiers
{
    /// <summary>Runs <paramref name="call"/> with <paramref name="user"/> preceded by the built-ins <paramref name="options"/> asks for,
    /// after checking the block mask's device and life (<see cref="BlockMaskTensor.CheckUsable"/>).</summary>
    public static void Compose<TScore, TMask, TCall>(AttentionOptions options, int headsQ, AttentionModifiers<TScore, TMask> user, TCall call)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier where TCall : struct, IModifiedCall
    {
        BlockMaskTensor.CheckUsable(user.Blocks, call.Device);
        Softcap? softcap = options.Softcap is float cap ? new Softcap(cap) : null;
        Alibi? alibi = options.AlibiSlopes is { } slopes ? new Alibi(slopes.View, headsQ, perBatch: slopes.Rank == 2) : null;
        switch (softcap, alibi)
        {
            case (null, null): call.Run(user); break;
            case ({ } s, null): Before(s, user, call); break;
            case (null, { } a): Before(a, user, call); break;
            case ({ } s, { } a): Before(new ComposedScoreModifier<Softcap, Alibi>(s, a), user, call); break;
        }
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
