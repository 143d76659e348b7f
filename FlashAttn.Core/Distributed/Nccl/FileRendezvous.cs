using System.Diagnostics;

namespace FlashAttn.Distributed;

/// <summary>
/// Agrees on an <see cref="NcclUniqueId"/> through a file that every rank can see (a local path for the processes of
/// one machine, a shared file system across machines): rank 0 makes the id and publishes it at <see cref="Path"/>
/// (written to a temporary file beside it, then moved into place, so a reader never sees half an id); every other
/// rank polls until the file appears, up to <see cref="Timeout"/>.
/// </summary>
/// <remarks>
/// Use a path unique to the run (for example one that contains a job id), or delete the file before starting: a file
/// left by an earlier run holds a stale id. Rank 0 refuses to publish over an existing file, so a stale file makes rank 0
/// fail at once instead of the group hanging; ranks that already read the stale id then fail in NCCL.
/// </remarks>
public sealed class FileRendezvous : NcclRendezvous
{
    /// <summary>How long <see cref="Await"/> waits by default: five minutes.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

    private readonly TimeSpan _pollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Creates the rendezvous at <paramref name="path"/>.</summary>
    /// <param name="path">The file rank 0 writes and the others read; made absolute against the current directory.</param>
    /// <param name="timeout">How long ranks other than 0 wait for the file (default <see cref="DefaultTimeout"/>;
    /// <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> waits forever).</param>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or white space.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is not positive (nor infinite).</exception>
    public FileRendezvous(string path, TimeSpan? timeout = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var wait = timeout ?? DefaultTimeout;
        if (wait <= TimeSpan.Zero && wait != System.Threading.Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(timeout), wait, "timeout must be positive, or Timeout.InfiniteTimeSpan.");
        Path = System.IO.Path.GetFullPath(path);
        Timeout = wait;
    }

    /// <summary>The file's absolute path.</summary>
    public string Path { get; }

    /// <summary>How long <see cref="Await"/> waits for the file.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>How often <see cref="Await"/> looks for the file (default 50 ms).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive.</exception>
    public TimeSpan PollInterval
    {
        get => _pollInterval;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            _pollInterval = value;
        }
    }

    /// <summary>Rank 0 makes the id with <paramref name="createId"/> and <see cref="Publish"/>es it; the other ranks
    /// <see cref="Await"/> it.</summary>
    /// <inheritdoc/>
    /// <exception cref="IOException">Rank 0: the file already exists, or could not be written.</exception>
    /// <exception cref="TimeoutException">Other ranks: no id appeared within <see cref="Timeout"/>.</exception>
    public override NcclUniqueId GetUniqueId(int rank, Func<NcclUniqueId> createId)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentNullException.ThrowIfNull(createId);
        if (rank != 0) return Await();
        var id = createId() ?? throw new InvalidOperationException("createId returned null.");
        Publish(id);
        return id;
    }

    /// <summary>
    /// Writes <paramref name="id"/> to <see cref="Path"/> atomically (a temporary file in the same folder, then moved
    /// into place), creating the folder if needed.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="id"/> is null.</exception>
    /// <exception cref="IOException"><see cref="Path"/> already exists (a stale file of an earlier run, or another rank
    /// 0), or the file system refused.</exception>
    public void Publish(NcclUniqueId id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (File.Exists(Path)) throw StaleFile(null);
        var folder = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        var temporary = $"{Path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(id.ToString());
                writer.Write('\n');
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }
            // Without overwrite the move fails when the file exists, so two publishers cannot both win.
            File.Move(temporary, Path, overwrite: false);
        }
        catch (IOException e) when (File.Exists(Path))
        {
            throw StaleFile(e);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    private IOException StaleFile(Exception? innerException) => new(
        $"The NCCL rendezvous file '{Path}' already exists (left by an earlier run, or published by another rank 0): " +
        "delete it, or use a path unique to the run; other ranks would read a stale id from it.", innerException);

    /// <summary>Waits until <see cref="Path"/> holds an id and returns it.</summary>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <exception cref="TimeoutException">No id appeared within <see cref="Timeout"/>; the message names the path.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    public NcclUniqueId Await(CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        string? problem = null;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (TryRead(out var id, out problem)) return id;
            var left = Timeout == System.Threading.Timeout.InfiniteTimeSpan ? PollInterval : Timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException(
                    $"No NCCL unique id appeared in the rendezvous file '{Path}' within {Timeout.TotalSeconds:0.###} s" +
                    (problem is null ? " (the file does not exist)" : $" ({problem})") +
                    ": rank 0 publishes it there. Is rank 0 running, and do all ranks use the same path?");
            cancellationToken.WaitHandle.WaitOne(left < PollInterval ? left : PollInterval);
        }
    }

    /// <summary>Reads the id if the file exists and holds one; otherwise says what is wrong (null: no file).</summary>
    private bool TryRead(out NcclUniqueId id, out string? problem)
    {
        id = null!;
        string text;
        try
        {
            if (!File.Exists(Path))
            {
                problem = null;
                return false;
            }
            text = File.ReadAllText(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"the file could not be read: {e.Message}";
            return false;
        }
        if (NcclUniqueId.TryParse(text, out var parsed))
        {
            id = parsed;
            problem = null;
            return true;
        }
        problem = $"the file exists but does not hold an id: it has {text.Trim().Length} characters, not {NcclUniqueId.HexLength} hexadecimal digits";
        return false;
    }
}
