using System.Reflection;
using System.Text;
using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Frontend;

/// <summary>
/// State of one kernel compilation: one IR <see cref="Function"/> per closed method (built on first
/// call), and the chain of methods being built, to detect recursion.
/// </summary>
internal sealed class CompilationContext
{
    private readonly Dictionary<MethodBase, Function> _functions = [];
    private readonly List<MethodBase> _inProgress = [];
    private readonly HashSet<string> _names = [];

    /// <summary>Every helper function built so far, in build order.</summary>
    public List<Function> Functions { get; } = [];

    /// <summary>The function of <paramref name="method"/>, built now if needed.</summary>
    /// <exception cref="CompilationException">Recursion (direct or indirect).</exception>
    public Function GetOrBuild(MethodBase method, MethodBase caller, int ilOffset)
    {
        if (_inProgress.Contains(method))
            throw new CompilationException(caller, ilOffset,
                $"recursion: {Describe(method)} calls itself (through {string.Join(" -> ", _inProgress.Select(Describe))})");
        if (_functions.TryGetValue(method, out var existing)) return existing;
        var function = new Function(UniqueName(Sanitize($"{method.DeclaringType?.Name}_{method.Name}")), IRType.Void) { Source = method };
        _functions.Add(method, function);
        Functions.Add(function);
        Enter(method);
        try
        {
            MethodBuilder.BuildHelper(this, method, function);
        }
        finally
        {
            Leave(method);
        }
        return function;
    }

    /// <summary>Marks <paramref name="method"/> as being built.</summary>
    public void Enter(MethodBase method) => _inProgress.Add(method);

    /// <summary>Marks <paramref name="method"/> as built.</summary>
    public void Leave(MethodBase method) => _inProgress.Remove(method);

    /// <summary>A name not used before in this compilation.</summary>
    public string UniqueName(string name)
    {
        string candidate = name;
        for (int k = 1; !_names.Add(candidate); k++) candidate = name + "_" + k;
        return candidate;
    }

    /// <summary>Keeps [A-Za-z0-9_], replaces everything else by '_'.</summary>
    public static string Sanitize(string text)
    {
        var result = new StringBuilder(text.Length);
        foreach (char c in text) result.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
        if (result.Length == 0 || char.IsAsciiDigit(result[0])) result.Insert(0, '_');
        return result.ToString();
    }

    private static string Describe(MethodBase m) => $"{m.DeclaringType?.Name}.{m.Name}";
}
