using System.Diagnostics.CodeAnalysis;

namespace FlashAttn.Distributed;

/// <summary>
/// The 128 bytes (<c>ncclUniqueId</c>) that every rank of one NCCL group must pass to create its communicator: one
/// process makes it with <see cref="Create"/> and hands it to the others, as text (<see cref="ToString"/>, read back
/// with <see cref="Parse"/>) through an <see cref="NcclRendezvous"/> or however the launcher likes. It holds the address
/// of rank 0's bootstrap socket, so it is good for one group of one run.
/// </summary>
public sealed class NcclUniqueId : IEquatable<NcclUniqueId>
{
    /// <summary>Bytes in an id (NCCL_UNIQUE_ID_BYTES).</summary>
    public const int Size = 128;

    /// <summary>Hexadecimal digits in <see cref="ToString"/>'s text.</summary>
    public const int HexLength = 2 * Size;

    private readonly byte[] _bytes;

    private NcclUniqueId(byte[] bytes) => _bytes = bytes;

    /// <summary>The id's bytes.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>A new id from NCCL (ncclGetUniqueId); the calling process becomes the group's bootstrap root.</summary>
    /// <exception cref="DeviceUnavailableException">NCCL could not be loaded (the message says what was tried and how to
    /// point at the library).</exception>
    /// <exception cref="NcclException">NCCL failed (for example no usable network interface).</exception>
    public static unsafe NcclUniqueId Create()
    {
        var nccl = NcclLibrary.Load();
        NcclUniqueIdNative id;
        nccl.Check(nccl.ncclGetUniqueId(&id), "ncclGetUniqueId");
        return FromBytes(new ReadOnlySpan<byte>(id.Internal, Size));
    }

    /// <summary>The id made of <paramref name="bytes"/> (copied).</summary>
    /// <exception cref="ArgumentException"><paramref name="bytes"/> does not hold exactly <see cref="Size"/> bytes.</exception>
    public static NcclUniqueId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
            throw new ArgumentException($"bytes has {bytes.Length} bytes; an NCCL unique id has {Size}.", nameof(bytes));
        return new NcclUniqueId(bytes.ToArray());
    }

    /// <summary>
    /// Reads the text of <see cref="ToString"/>: <see cref="HexLength"/> hexadecimal digits (either case; surrounding
    /// white space, such as a file's final newline, is ignored).
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <exception cref="FormatException"><paramref name="text"/> is not such a text; the message says why.</exception>
    public static NcclUniqueId Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var id, out var error) ? id : throw new FormatException(error);
    }

    /// <summary>Reads the text of <see cref="ToString"/>, as <see cref="Parse"/> does; false instead of throwing.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out NcclUniqueId? id)
        => TryParse(text, out id, out _);

    private static bool TryParse(string? text, [NotNullWhen(true)] out NcclUniqueId? id, [NotNullWhen(false)] out string? error)
    {
        id = null;
        if (text is null)
        {
            error = "text is null.";
            return false;
        }
        var digits = text.AsSpan().Trim();
        if (digits.Length != HexLength)
        {
            error = $"text must be {HexLength} hexadecimal digits (the {Size} bytes of an NCCL unique id); it has {digits.Length} characters.";
            return false;
        }
        for (int i = 0; i < digits.Length; i++)
        {
            if (!char.IsAsciiHexDigit(digits[i]))
            {
                error = $"text must be {HexLength} hexadecimal digits (the {Size} bytes of an NCCL unique id); character {i} is '{digits[i]}'.";
                return false;
            }
        }
        id = new NcclUniqueId(Convert.FromHexString(digits));
        error = null;
        return true;
    }

    /// <summary>The id as <see cref="HexLength"/> lowercase hexadecimal digits, which <see cref="Parse"/> reads back.</summary>
    public override string ToString() => Convert.ToHexStringLower(_bytes);

    /// <summary>The id laid out for NCCL.</summary>
    internal unsafe NcclUniqueIdNative ToNative()
    {
        NcclUniqueIdNative native;
        _bytes.CopyTo(new Span<byte>(native.Internal, Size));
        return native;
    }

    /// <inheritdoc/>
    public bool Equals(NcclUniqueId? other) => other is not null && _bytes.AsSpan().SequenceEqual(other._bytes);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as NcclUniqueId);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(_bytes);
        return hash.ToHashCode();
    }
}
