using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace FlashAttn.Bench.Cli;

/// <summary>
/// The options of one verb: <c>--name value</c> pairs and bare <c>--flag</c>s. Unknown names and missing values are
/// errors (<see cref="FormatException"/>), so a typo never silently runs the full sweep.
/// </summary>
internal sealed class VerbArguments
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    /// <summary>Parses <paramref name="args"/> (the verb already removed).</summary>
    /// <param name="args">The arguments after the verb.</param>
    /// <param name="valueOptions">Names (with "--") that take a value; they may repeat.</param>
    /// <param name="flagOptions">Names (with "--") that take none.</param>
    /// <exception cref="FormatException">An unknown option, a stray word, or an option without its value.</exception>
    public VerbArguments(IReadOnlyList<string> args, IEnumerable<string> valueOptions, IEnumerable<string>? flagOptions = null)
    {
        var takesValue = valueOptions.ToHashSet(StringComparer.Ordinal);
        var isFlag = (flagOptions ?? []).ToHashSet(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            if (isFlag.Contains(name))
                _flags.Add(name);
            else if (takesValue.Contains(name))
            {
                if (i + 1 >= args.Count) throw new FormatException($"{name} needs a value.");
                if (!_values.TryGetValue(name, out var list)) _values[name] = list = [];
                list.Add(args[++i]);
            }
            else
                throw new FormatException($"unknown option '{name}'.");
        }
    }

    /// <summary>
    /// Parses a verb's arguments (<paramref name="args"/>[0] is the verb) into its options; false, after printing the
    /// error and <paramref name="usage"/> on <paramref name="error"/>, when they are bad.
    /// </summary>
    public static bool TryParse<TOptions>(IReadOnlyList<string> args, IEnumerable<string> valueOptions, IEnumerable<string>? flagOptions,
        Func<VerbArguments, TOptions> parse, string usage, TextWriter error, [MaybeNullWhen(false)] out TOptions options)
    {
        try
        {
            options = parse(new VerbArguments([.. args.Skip(1)], valueOptions, flagOptions));
            return true;
        }
        catch (FormatException e)
        {
            error.WriteLine($"{e.Message}\nusage: {usage}");
            options = default;
            return false;
        }
    }

    /// <summary>The whole command line as typed, for the results file.</summary>
    public static string Describe(IEnumerable<string> args) => "FlashAttn.Bench " + string.Join(' ', args);

    /// <summary>True when <paramref name="name"/> was given.</summary>
    public bool Flag(string name) => _flags.Contains(name);

    /// <summary>The last value of <paramref name="name"/>, or <paramref name="fallback"/>.</summary>
    public string? Value(string name, string? fallback = null) => _values.TryGetValue(name, out var list) ? list[^1] : fallback;

    /// <summary>Every value of <paramref name="name"/>, each split at commas; <paramref name="fallback"/> when absent.</summary>
    public IReadOnlyList<string> List(string name, IReadOnlyList<string> fallback)
        => _values.TryGetValue(name, out var list)
            ? [.. list.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))]
            : fallback;

    /// <summary>A positive integer option.</summary>
    /// <exception cref="FormatException">Not a positive integer.</exception>
    public int Positive(string name, int fallback) => Value(name) is { } text ? ParsePositive(name, text) : fallback;

    /// <summary>A non-negative integer option.</summary>
    /// <exception cref="FormatException">Not a non-negative integer.</exception>
    public int NonNegative(string name, int fallback)
        => Value(name) is not { } text ? fallback
            : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value
            : throw new FormatException($"{name} takes a non-negative integer, not '{text}'.");

    /// <summary>A comma-separated list of positive integers.</summary>
    /// <exception cref="FormatException">An entry is not a positive integer.</exception>
    public IReadOnlyList<int> Positives(string name, IReadOnlyList<int> fallback)
        => _values.ContainsKey(name) ? [.. List(name, []).Select(text => ParsePositive(name, text))] : fallback;

    /// <summary>One of <paramref name="choices"/> (lower case), or <paramref name="fallback"/>.</summary>
    /// <exception cref="FormatException">Another value.</exception>
    public string Choice(string name, string fallback, params string[] choices)
    {
        string value = (Value(name) ?? fallback).ToLowerInvariant();
        return choices.Contains(value) ? value : throw new FormatException($"{name} takes {string.Join(" | ", choices)}, not '{value}'.");
    }

    private static int ParsePositive(string name, string text)
        => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value > 0
            ? value
            : throw new FormatException($"{name} takes positive integers, not '{text}'.");
}
