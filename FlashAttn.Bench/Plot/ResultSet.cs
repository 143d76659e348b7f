using FlashAttn.Bench.Results;

namespace FlashAttn.Bench.Plot;

/// <summary>
/// The results of several files, one row per backend and configuration: a later file's row replaces an earlier
/// one, except that a row without a timing (a memory-only or failed row) never replaces a timed one.
/// </summary>
internal sealed class ResultSet
{
    private readonly Dictionary<(string Backend, ConfigurationKey Key), BenchResult> _rows = [];

    /// <summary>Merges <paramref name="runs"/> in order.</summary>
    public ResultSet(IEnumerable<BenchRun> runs)
    {
        Sources = [.. runs];
        foreach (var result in Sources.SelectMany(r => r.Results))
        {
            var id = (result.Backend, result.Key);
            if (result.Tflops is null && _rows.TryGetValue(id, out var kept) && kept.Tflops is not null) continue;
            _rows[id] = result;
        }
    }

    /// <summary>The files, in the order given.</summary>
    public IReadOnlyList<BenchRun> Sources { get; }

    /// <summary>The row of <paramref name="backend"/> at <paramref name="key"/>, or null.</summary>
    public BenchResult? Find(string backend, ConfigurationKey key) => _rows.GetValueOrDefault((backend, key));

    /// <summary>Every group with a row of <paramref name="backend"/> (any backend when null), ordered dtype → d → mask → pass.</summary>
    public IReadOnlyList<ChartGroup> Groups(string? backend = null)
        => [.. _rows.Values.Where(r => backend is null || r.Backend == backend).Select(ChartGroup.Of).Distinct()
            .OrderBy(g => g.DType).ThenBy(g => g.HeadDim).ThenBy(g => g.Causal).ThenBy(g => g.Pass)];

    /// <summary>The backends with a row in <paramref name="group"/>: known ones in legend order, then any others by name.</summary>
    public IReadOnlyList<string> BackendsIn(ChartGroup group)
    {
        var present = _rows.Values.Where(r => ChartGroup.Of(r) == group).Select(r => r.Backend).ToHashSet();
        return [.. Backends.All.Where(present.Contains), .. present.Except(Backends.All).Order(StringComparer.Ordinal)];
    }

    /// <summary>The sequence lengths with a row in <paramref name="group"/>, increasing.</summary>
    public IReadOnlyList<int> SeqLens(ChartGroup group)
        => [.. _rows.Values.Where(r => ChartGroup.Of(r) == group).Select(r => r.SeqLen).Distinct().Order()];
}
