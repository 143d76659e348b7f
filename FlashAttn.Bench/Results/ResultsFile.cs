using System.Text.Json;
using System.Text.Json.Serialization;

namespace FlashAttn.Bench.Results;

/// <summary>Reads and writes results files: ours (<see cref="BenchRun"/>) and PyTorch's flat reference file.</summary>
internal static class ResultsFile
{
    /// <summary>The serializer settings of the shared schema: indented, nulls written.</summary>
    public static JsonSerializerOptions Options { get; } = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The JSON text of <paramref name="run"/>.</summary>
    public static string Serialize(BenchRun run) => JsonSerializer.Serialize(run, Options);

    /// <summary>Writes <paramref name="run"/> to <paramref name="path"/> (through a temporary file, so a killed run leaves the last complete file).</summary>
    public static void Write(string path, BenchRun run)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, Serialize(run));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Parses either schema: an object with "results" (ours and the PyTorch script's) or the flat reference array.</summary>
    /// <param name="json">The file's text.</param>
    /// <param name="source">The file's name, for the device field of a reference file and for errors.</param>
    /// <exception cref="FormatException">Neither schema.</exception>
    public static BenchRun Parse(string json, string source)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        try
        {
            return root.ValueKind switch
            {
                JsonValueKind.Array => ReferenceFileReader.Read(root, source),
                JsonValueKind.Object => root.Deserialize<BenchRun>(Options) ?? throw new FormatException($"{source}: empty results file."),
                _ => throw new FormatException($"{source}: expected a results object or a reference array."),
            };
        }
        catch (JsonException e)
        {
            throw new FormatException($"{source}: {e.Message}", e);
        }
    }

    /// <summary>Reads a results file of either schema.</summary>
    /// <exception cref="FormatException">Neither schema.</exception>
    public static BenchRun Read(string path) => Parse(File.ReadAllText(path), Path.GetFileName(path));
}
