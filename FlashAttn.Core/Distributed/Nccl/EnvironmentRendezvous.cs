namespace FlashAttn.Distributed;

/// <summary>
/// Reads the group's <see cref="NcclUniqueId"/> from an environment variable (by default <see cref="DefaultVariable"/>)
/// that whoever launches the processes set to the same id's text for all of them: the launcher (or a first step of the
/// job) calls <see cref="NcclUniqueId.Create"/> once and exports <c>id.ToString()</c>. No rank makes an id.
/// </summary>
public sealed class EnvironmentRendezvous : NcclRendezvous
{
    /// <summary>The default variable: <c>FLASHATTN_NCCL_ID</c>.</summary>
    public const string DefaultVariable = "FLASHATTN_NCCL_ID";

    /// <summary>Creates the rendezvous reading <paramref name="variable"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="variable"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="variable"/> is empty or white space.</exception>
    public EnvironmentRendezvous(string variable = DefaultVariable)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(variable);
        Variable = variable;
    }

    /// <summary>The environment variable holding the id.</summary>
    public string Variable { get; }

    /// <summary>The id in <see cref="Variable"/>, on every rank (<paramref name="createId"/> is not called).</summary>
    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException"><see cref="Variable"/> is not set.</exception>
    /// <exception cref="FormatException"><see cref="Variable"/> does not hold an id's text.</exception>
    public override NcclUniqueId GetUniqueId(int rank, Func<NcclUniqueId> createId)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentNullException.ThrowIfNull(createId);
        return Read();
    }

    /// <summary>The id in <see cref="Variable"/>.</summary>
    /// <exception cref="InvalidOperationException"><see cref="Variable"/> is not set.</exception>
    /// <exception cref="FormatException"><see cref="Variable"/> does not hold an id's text; the message names it.</exception>
    public NcclUniqueId Read()
    {
        var text = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(text))
            throw new InvalidOperationException(
                $"The environment variable {Variable} is not set: the launcher must set it, for every rank, to the text of one " +
                "NcclUniqueId (NcclUniqueId.Create().ToString(), made once).");
        try
        {
            return NcclUniqueId.Parse(text);
        }
        catch (FormatException e)
        {
            throw new FormatException($"The environment variable {Variable} does not hold an NCCL unique id: {e.Message}", e);
        }
    }
}
