using System.Runtime.CompilerServices;
using FlashAttn.Kernels;

namespace FlashAttn.Cpu;

/// <summary>
/// A call's score and mask modifiers and dropout as the CPU passes apply them: element by element, in scalars, on the
/// score blocks the SIMD micro-kernels produce. <see cref="ScoresModified"/> is a constant per instantiation (generic
/// struct parameters specialise), so for <see cref="NoScoreModifier"/> and <see cref="NoMaskModifier"/> the JIT drops
/// the score step and plain attention runs its SIMD loops untouched; dropout is a per-call flag.
/// </summary>
/// <param name="modifiers">The user's (and built-in) modifiers.</param>
/// <param name="dropout">Dropout on P (off unless its probability is positive).</param>
/// <param name="headsQ">h_q: dropout's counter is keyed by batch · h_q + head.</param>
/// <param name="sequence">The batch index modifiers see for batch 0: a varlen or KV-cache sequence runs as a dense batch
/// of one, and its positions carry the sequence's index.</param>
/// <param name="tiles">The call's block mask (<see cref="CpuTiles.None"/> for varlen and KV-cache sequences).</param>
internal readonly struct CpuModifiers<TScore, TMask>(AttentionModifiers<TScore, TMask> modifiers, Dropout dropout, int headsQ, int sequence,
    CpuTiles tiles)
    where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
{
    private readonly AttentionModifiers<TScore, TMask> _modifiers = modifiers;
    private readonly Dropout _dropout = dropout;
    private readonly int _headsQ = headsQ, _sequence = sequence;

    // a log2-domain score to the score modifier's input (ln 2 / u), and its output back (u · log2 e): its unit u
    // (AttentionModifiers.ScoreUnit, usually 1)
    private readonly float _toModifier = SoftmaxLog2.Ln2 * modifiers.InverseScoreUnit, _fromModifier = SoftmaxLog2.Log2E * modifiers.ScoreUnit;

    /// <summary>Which tiles the passes skip (Empty) or spare the mask test (Full).</summary>
    public CpuTiles Tiles { get; } = tiles;

    private static bool ScoreActs => (AttentionModifiers<TScore, TMask>.Flags & AttentionModifiers<TScore, TMask>.ScoreFlag) != 0;
    private static bool MaskActs => (AttentionModifiers<TScore, TMask>.Flags & AttentionModifiers<TScore, TMask>.MaskFlag) != 0;

    /// <summary>A score or mask modifier acts (a JIT-time constant).</summary>
    public static bool ScoresModified => AttentionModifiers<TScore, TMask>.Flags != 0;

    /// <summary>Only the score modifier has a derivative other than 1 to carry into dS.</summary>
    public static bool ScoresDifferentiated => ScoreActs;

    /// <summary>Dropout acts on P.</summary>
    public bool Dropped => _dropout.Enabled;

    /// <summary>Anything acts: the passes take their modified steps.</summary>
    public bool Acts => ScoresModified || Dropped;

    /// <summary>A score or mask modifier acts on a tile of class <paramref name="tile"/> (<see cref="CpuTiles"/>): a full tile
    /// needs no mask test, so with the mask modifier alone it takes the plain steps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool ScoresModifiedOn(byte tile) => ScoreActs || (MaskActs && tile != BlockMask.Full);

    /// <summary>Anything acts on a tile of class <paramref name="tile"/>: <see cref="ScoresModifiedOn"/> or dropout.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool ActsOn(byte tile) => ScoresModifiedOn(tile) || Dropped;

    /// <summary>1/(1 − p) with dropout, else 1: the scale of kept probabilities.</summary>
    public float KeptScale => Dropped ? _dropout.KeptScale : 1f;

    /// <summary>The position of query <paramref name="i"/> and key <paramref name="j"/> of head <paramref name="h"/>, batch <paramref name="b"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ScorePosition At(CpuAttentionLayout layout, int b, int h, int i, int j) => new(_sequence + b, h, i, j, i + layout.DiagonalOffset);

    /// <summary>
    /// A log2-domain score (scale · log₂e · q·k, as the packs hold it) through the modifiers: −∞ when the mask modifier
    /// hides it (tested only when <paramref name="masked"/>: not on a full tile), else log₂e · f(scale · q·k) (u · log₂e · f(scale · q·k / u)
    /// for a modifier in units of u).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Log2Score(float log2Score, ScorePosition at, bool masked)
    {
        if (MaskActs && masked && !_modifiers.Mask.Visible(at)) return float.NegativeInfinity;
        return ScoreActs ? _modifiers.Score.Apply(log2Score * _toModifier, at) * _fromModifier : log2Score;
    }

    /// <summary>∂f/∂s at a log2-domain score (1 without a score modifier).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Derivative(float log2Score, ScorePosition at) => ScoreActs ? _modifiers.Score.Derivative(log2Score * _toModifier, at) : 1f;

    /// <summary>
    /// Dropout's decisions (the kernels' <see cref="Dropout.Keep"/>) for the 64 × 64 block of queries <paramref name="i0"/>… ×
    /// keys <paramref name="j0"/>… of head <paramref name="h"/>, batch <paramref name="b"/>: <paramref name="keeps"/>[(i − i0) · 64 +
    /// j − j0] = 1 where P is kept, else 0. Blocks start at multiples of 64, so they hold whole dropout groups: one Philox
    /// call per group of 16 entries.
    /// </summary>
    public unsafe void DropoutKeeps(int b, int h, int i0, int j0, byte* keeps)
    {
        const int block = CpuAttentionLayout.Block;
        uint threshold = _dropout.Threshold8;
        for (int i = i0; i < i0 + block; i += 16)
            for (int query = i; query < i + 8; query++)
                for (int j = j0; j < j0 + block; j += 32)
                    for (int key = j; key < j + 8; key += 2)
                    {
                        // the group's entries: queries query, query + 8 × keys key, key + 1, key + 8, key + 9, key + 16, …, key + 25
                        var group = _dropout.GroupOf(_headsQ, _sequence + b, h, query, key);
                        for (int entry = 0; entry < 16; entry++)
                        {
                            var (di, dj) = Dropout.EntryOffsets(entry);
                            keeps[(query + di - i0) * block + key + dj - j0] = Dropout.Kept(group, entry, threshold) ? (byte)1 : (byte)0;
                        }
                    }
    }
}
