namespace FlashAttn.Distributed;

/// <summary>
/// How the processes of one NCCL group agree on its <see cref="NcclUniqueId"/>: one rank makes the id, the others
/// learn it. <see cref="FileRendezvous"/> passes it through a shared file; <see cref="EnvironmentRendezvous"/> reads it
/// from an environment variable that the launcher set. Derive from this class to pass it another way (a key-value
/// store, MPI, ...).
/// </summary>
public abstract class NcclRendezvous
{
    /// <summary>Creates the rendezvous.</summary>
    protected NcclRendezvous()
    {
    }

    /// <summary>
    /// The id of the group, the same on every rank. Called once by each rank (each process) of the group.
    /// </summary>
    /// <param name="rank">The calling rank.</param>
    /// <param name="createId">Makes a new id (<see cref="NcclUniqueId.Create"/> when called by
    /// <c>NcclProcessGroup.Create</c>); a rendezvous calls it on one rank at most.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rank"/> is negative.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="createId"/> is null.</exception>
    public abstract NcclUniqueId GetUniqueId(int rank, Func<NcclUniqueId> createId);
}
