using System.Reflection;

namespace FlashAttn.Compute;

/// <summary>
/// A kernel uses something the compiler does not support, or breaks a rule of the programming model.
/// The message names the method, the IL offset (when known) and the construct.
/// </summary>
public sealed class CompilationException : Exception
{
    /// <summary>Creates the exception for <paramref name="construct"/> found in <paramref name="method"/> at <paramref name="ilOffset"/>.</summary>
    public CompilationException(MethodBase? method, int ilOffset, string construct, Exception? inner = null)
        : base(Describe(method, ilOffset, construct), inner)
    {
        Method = method;
        ILOffset = ilOffset;
        Construct = construct;
    }

    /// <summary>Creates the exception with only a message (no method known).</summary>
    public CompilationException(string construct) : this(null, -1, construct) { }

    /// <summary>The method being compiled, if known.</summary>
    public MethodBase? Method { get; }

    /// <summary>IL offset of the offending instruction, or -1.</summary>
    public int ILOffset { get; }

    /// <summary>What was not supported, in words.</summary>
    public string Construct { get; }

    private static string Describe(MethodBase? method, int ilOffset, string construct)
    {
        string where = method is null ? "" : $" in {method.DeclaringType?.FullName}.{method.Name}";
        string at = ilOffset >= 0 ? $" at IL_{ilOffset:x4}" : "";
        return $"Kernel compilation failed{where}{at}: {construct}";
    }
}
