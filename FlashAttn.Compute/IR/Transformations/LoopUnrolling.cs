namespace FlashAttn.Compute.IR.Transformations;

/// <summary>Full unrolling of natural loops with a compile-time trip count.</summary>
public sealed class LoopUnrolling : FunctionPass
{
    /// <summary>Largest trip count unrolled.</summary>
    public int MaxTripCount { get; init; } = 1024;

    /// <summary>Largest number of instructions one unrolling may create.</summary>
    public int MaxInstructions { get; init; } = 20_000;

    /// <inheritdoc/>
    public override string Name => "LoopUnrolling";

    /// <inheritdoc/>
    public override bool Run(Function function) => false;
}
