namespace FlashAttn.Bench.Results;

/// <summary>The pass names of the results files and the command line.</summary>
internal static class AttentionPasses
{
    /// <summary>Every pass, in sweep order.</summary>
    public static IReadOnlyList<AttentionPass> All { get; } = [AttentionPass.Forward, AttentionPass.Backward, AttentionPass.ForwardBackward];

    /// <summary>"fwd", "bwd" or "fwd_bwd".</summary>
    public static string Name(AttentionPass pass) => pass switch
    {
        AttentionPass.Forward => "fwd",
        AttentionPass.Backward => "bwd",
        _ => "fwd_bwd",
    };

    /// <summary>Words for tables and chart titles.</summary>
    public static string Title(AttentionPass pass) => pass switch
    {
        AttentionPass.Forward => "forward",
        AttentionPass.Backward => "backward",
        _ => "forward + backward",
    };

    /// <summary>Parses a name of <see cref="Name"/>.</summary>
    /// <exception cref="FormatException">Another word.</exception>
    public static AttentionPass Parse(string name)
    {
        foreach (var pass in All)
            if (Name(pass) == name) return pass;
        throw new FormatException($"unknown pass '{name}': use fwd, bwd or fwd_bwd.");
    }
}
