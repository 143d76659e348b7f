using FlashAttn.Kernels;

namespace FlashAttn;

/// <summary>
/// The score and mask modifiers of one call, passed to the kernels as one argument. Which of them act is compiled in
/// (<see cref="ScoreFlag"/>, <see cref="MaskFlag"/> in a specialised int), so plain attention's code is unchanged.
/// </summary>
public readonly struct AttentionModifiers<TScore, TMask>(TScore score, TMask mask, BlockMask blocks = default)
    where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
{
    /// <summary>Flag: the score modifier acts.</summary>
    public const int ScoreFlag = 1;

    /// <summary>Flag: the mask modifier acts.</summary>
    public const int MaskFlag = 2;

    /// <summary>Flag (of the call's settings, not of the types): dropout acts on P.</summary>
    public const int DropoutFlag = 4;

    /// <summary>Flag (of the instance): a block mask skips empty tiles and spares full ones the mask modifier.</summary>
    public const int BlockMaskFlag = 8;

    /// <summary>The score modifier.</summary>
    public TScore Score { get; } = score;

    /// <summary>The mask modifier.</summary>
    public TMask Mask { get; } = mask;

    /// <summary>The block mask of <see cref="Mask"/> (default: none; dense calls on tensor cores).</summary>
    public BlockMask Blocks { get; } = blocks;

    // the score modifier's unit u (InUnitsOf) and 1/u; 0 in a default instance, read as 1
    private readonly float _scoreUnit, _inverseScoreUnit;

    /// <summary>
    /// The unit u the score modifier works in (1 unless a built-in asks for another, <see cref="InUnitsOf"/>): the kernels pass
    /// it s/u and count its result u times, so the modified score is u · f(s/u), and its derivative f′(s/u) as it stands.
    /// Both factors join per-call constants (the score's scale, the softmax's), so a softcap in units of its cap costs its tanh
    /// alone per score, not a multiply before and after it.
    /// </summary>
    internal float ScoreUnit => _scoreUnit == 0f ? 1f : _scoreUnit;

    /// <summary>1/<see cref="ScoreUnit"/>, rounded once on the host.</summary>
    internal float InverseScoreUnit => _inverseScoreUnit == 0f ? 1f : _inverseScoreUnit;

    /// <summary>These modifiers with the score modifier working in units of <paramref name="unit"/> (positive): see <see cref="ScoreUnit"/>.</summary>
    internal AttentionModifiers<TScore, TMask> InUnitsOf(float unit) => new(Score, Mask, Blocks, unit);

    private AttentionModifiers(TScore score, TMask mask, BlockMask blocks, float unit) : this(score, mask, blocks)
    {
        _scoreUnit = unit;
        _inverseScoreUnit = 1f / unit;
    }

    /// <summary>True when the block mask (acting per <paramref name="flags"/>) empties the tile [q0, q0 + rows) × [k0, k0 + cols) of
    /// (<paramref name="batch"/>, <paramref name="head"/>): the kernels skip it, loads included.</summary>
    public bool HidesTile(int flags, int batch, int head, int q0, int rows, int k0, int cols)
        => TileClass(flags, batch, head, q0, rows, k0, cols) == BlockMask.Empty;

    /// <summary>The block mask's class of the tile [q0, q0 + rows) × [k0, k0 + cols) (<see cref="BlockMask.TileOf"/>), or
    /// <see cref="BlockMask.Partial"/> when no block mask acts (per <paramref name="flags"/>): one lookup that serves both
    /// <see cref="HidesTile"/> (class Empty) and <see cref="TestsMaskOn"/>.</summary>
    public byte TileClass(int flags, int batch, int head, int q0, int rows, int k0, int cols)
        => (flags & BlockMaskFlag) != 0 ? Blocks.TileOf(batch, head, q0, rows, k0, cols) : BlockMask.Partial;

    /// <summary>True when the mask modifier (acting per <paramref name="flags"/>) must test the elements of a tile of class
    /// <paramref name="tileClass"/> (<see cref="TileClass"/>): it acts, and no block mask marks the tile full (a full tile
    /// skips the test).</summary>
    public static bool TestsMaskOn(int flags, byte tileClass) => (flags & MaskFlag) != 0 && tileClass != BlockMask.Full;

    /// <summary>The flags of a call with these modifiers (block mask included) and <paramref name="settings"/>.</summary>
    public int FlagsFor(AttentionSettings settings) => FlagsWith(settings) | (Blocks.Present ? BlockMaskFlag : 0);

    /// <summary>The flags of a call with these types and <paramref name="settings"/>.</summary>
    public static int FlagsWith(AttentionSettings settings) => Flags | (settings.Dropout.Enabled ? DropoutFlag : 0);

    /// <summary>The flags for these types: a modifier acts unless it is the no-op one.</summary>
    public static int Flags => (typeof(TScore) == typeof(NoScoreModifier) ? 0 : ScoreFlag) | (typeof(TMask) == typeof(NoMaskModifier) ? 0 : MaskFlag);
}
