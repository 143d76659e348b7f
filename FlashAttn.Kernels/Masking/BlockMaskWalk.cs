namespace FlashAttn.Kernels;

/// <summary>
/// A tensor-core kernel's walk along one line of tiles past those a block mask empties: the forward walks the key blocks
/// of its query rows, the backward the query blocks of its keys. The walk knows each block one iteration before its loads
/// are issued. A lookup is a global load, so the walk does not branch on it at once. The lookup of the block after the
/// following one is issued early (<see cref="ClassAhead"/>) and read later in the iteration (<see cref="Resolve"/>).
/// The forward reads it after the softmax: reading it after P·V made ptxas spill 332 bytes instead of 96 at d = 128.
/// The backward reads it after dQ. Only a candidate the mask empties starts a search, once per run of empty blocks,
/// with four lookups in flight; otherwise a line whose visible blocks end at its middle (a document mask) would pay a
/// load latency for each empty block after them. Measured against branching at once, the 50%-empty row moved within
/// the noise (H100, 3ce6f52): the lookups were not what limits it.
/// Without a block mask (per the specialised flags), every class is the constant Partial and the walk folds away.
/// </summary>
internal readonly struct BlockMaskWalk(int batch, int head, bool alongKeys, int lineStart, int lineLength, int step, int end)
{
    /// <summary>A walk over the key blocks of query rows [q0, q0 + rows), <paramref name="bc"/> keys per block, up to <paramref name="end"/>.</summary>
    public static BlockMaskWalk AlongKeys(int batch, int head, int q0, int rows, int bc, int end) => new(batch, head, true, q0, rows, bc, end);

    /// <summary>A walk over the query blocks of keys [k0, k0 + cols), <paramref name="br"/> rows per block, up to <paramref name="end"/>.</summary>
    public static BlockMaskWalk AlongQueries(int batch, int head, int k0, int cols, int br, int end) => new(batch, head, false, k0, cols, br, end);

    /// <summary>The class of <paramref name="block"/> (<see cref="AttentionModifiers{TScore, TMask}.TileClass"/>); Empty past the end
    /// with a block mask, the constant Partial without one (so that the kernels' per-class choices fold). No branch waits on
    /// it: issue it early, read it in <see cref="Resolve"/>.</summary>
    public byte ClassAhead<TScore, TMask>(AttentionModifiers<TScore, TMask> modifiers, int flags, int block)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => (flags & AttentionModifiers<TScore, TMask>.BlockMaskFlag) == 0 ? BlockMask.Partial
            : block < end ? ClassOf(modifiers, flags, block) : BlockMask.Empty;

    /// <summary>The first block from <paramref name="candidate"/> on that the mask does not empty, and its class, given the
    /// candidate's class from <see cref="ClassAhead"/>: the candidate itself unless it is empty.</summary>
    public int Resolve<TScore, TMask>(AttentionModifiers<TScore, TMask> modifiers, int flags, int candidate, byte candidateClass, out byte tileClass)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        tileClass = candidateClass;
        if (candidateClass != BlockMask.Empty || candidate >= end) return candidate;
        return Next(modifiers, flags, candidate + 1, out tileClass);
    }

    /// <summary>The first block from <paramref name="from"/> that the mask does not empty (at or past the line's end: none), and its
    /// class; <paramref name="from"/> itself, Partial, without a block mask. Four lookups in flight per step.</summary>
    public int Next<TScore, TMask>(AttentionModifiers<TScore, TMask> modifiers, int flags, int from, out byte tileClass)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        tileClass = BlockMask.Partial;
        if ((flags & AttentionModifiers<TScore, TMask>.BlockMaskFlag) == 0) return from;
        for (; from < end; from += 4)
        {
            byte c0 = ClassOf(modifiers, flags, from);
            byte c1 = ClassAhead(modifiers, flags, from + 1), c2 = ClassAhead(modifiers, flags, from + 2), c3 = ClassAhead(modifiers, flags, from + 3);
            int found = c0 != BlockMask.Empty ? 0 : c1 != BlockMask.Empty ? 1 : c2 != BlockMask.Empty ? 2 : c3 != BlockMask.Empty ? 3 : -1;
            if (found >= 0)
            {
                tileClass = found == 0 ? c0 : found == 1 ? c1 : found == 2 ? c2 : c3;
                return from + found;
            }
        }
        return end;
    }

    private byte ClassOf<TScore, TMask>(AttentionModifiers<TScore, TMask> modifiers, int flags, int block)
        where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
        => alongKeys
            ? modifiers.TileClass(flags, batch, head, lineStart, lineLength, block * step, step)
            : modifiers.TileClass(flags, batch, head, block * step, step, lineStart, lineLength);
}
