using System.Text;

namespace FlashAttn.Bench.Results;

/// <summary>A markdown (GitHub) table: the first columns left-aligned (labels), the rest right-aligned (numbers).</summary>
/// <param name="headers">Column headers.</param>
/// <param name="labelColumns">How many leading columns hold labels.</param>
internal sealed class MarkdownTable(IReadOnlyList<string> headers, int labelColumns)
{
    private readonly List<IReadOnlyList<string>> _rows = [];

    /// <summary>Adds a row of exactly one cell per header.</summary>
    /// <exception cref="ArgumentException">Another count.</exception>
    public void AddRow(params IReadOnlyList<string> cells)
    {
        if (cells.Count != headers.Count) throw new ArgumentException($"{cells.Count} cells for {headers.Count} columns.", nameof(cells));
        _rows.Add(cells);
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        var text = new StringBuilder();
        Line(text, headers);
        Line(text, [.. headers.Select((_, i) => i < labelColumns ? "---" : "---:")]);
        foreach (var row in _rows) Line(text, row);
        return text.ToString();
    }

    private static void Line(StringBuilder text, IEnumerable<string> cells)
        => text.Append("| ").AppendJoin(" | ", cells.Select(c => c.Replace("|", "\\|"))).Append(" |\n");
}
