using System.Text.RegularExpressions;
using FlashAttn.Compute;
using FlashAttn.Compute.Backends.Ptx;
using FlashAttn.Compute.IR;

namespace FlashAttn.Tests.Compute.Ptx;

/// <summary>A kernel under construction: a function, its entry block and a builder on it.</summary>
internal sealed class KernelUnderTest
{
    public KernelUnderTest(string name)
    {
        Function = new Function(name, IRType.Void) { IsKernel = true };
        Entry = Function.AddBlock("entry");
        B = new IRBuilder(Entry);
    }

    public Function Function { get; }
    public BasicBlock Entry { get; }
    public IRBuilder B { get; }

    public static IRType Global => IRType.Pointer(AddressSpace.Global);
    public static IRType Shared => IRType.Pointer(AddressSpace.Shared);

    public Parameter Param(IRType type, string name) => Function.AddParameter(type, name);

    /// <summary>ptr + index · size (index i32, sign-extended).</summary>
    public Instruction Element(Value pointer, Value index, int size)
    {
        var wide = B.Convert(IRType.Int64, index);
        var bytes = B.Mul(wide, Constant.I64(size));
        return B.PtrAdd(pointer, bytes);
    }

    public Instruction Intrinsic(IntrinsicOp op, IRType type, params Value[] operands) => B.Intrinsic(op, type, operands);

    public PtxModule Compile(PtxTarget? target = null, PtxEmitOptions? options = null)
    {
        var module = PtxBackend.Emit(Function, target ?? PtxTarget.Default, options ?? PtxEmitOptions.Default);
        PtxChecker.AssertWellFormed(module);
        PtxChecker.Dump(module, Function.Name);
        return module;
    }
}

/// <summary>Structural checks of PTX text (there is no ptxas on the build machine).</summary>
internal static partial class PtxChecker
{
    [GeneratedRegex(@"\.reg\s+\.(\w+)\s+(%[a-z]+)<(\d+)>;")]
    private static partial Regex Declaration();

    [GeneratedRegex(@"(%[a-z]+)(\d+)\b")]
    private static partial Regex RegisterUse();

    [GeneratedRegex(@"^(\$L__\w+):", RegexOptions.Multiline)]
    private static partial Regex LabelDefinition();

    [GeneratedRegex(@"\bbra(?:\.uni)?\s+(\$L__\w+);")]
    private static partial Regex LabelUse();

    /// <summary>Registers declared and in range, labels defined, braces balanced, statements terminated.</summary>
    public static void AssertWellFormed(PtxModule module)
    {
        string text = module.Text;
        var declared = new Dictionary<string, int>();
        foreach (Match m in Declaration().Matches(text))
        {
            Assert.That(declared.ContainsKey(m.Groups[2].Value), Is.False, $"{m.Groups[2].Value} declared twice");
            declared[m.Groups[2].Value] = int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        foreach (Match m in RegisterUse().Matches(text))
        {
            string prefix = m.Groups[1].Value;
            int k = int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.That(declared.TryGetValue(prefix, out int n), Is.True, $"register class {prefix} used ({m.Value}) but not declared\n{text}");
            Assert.That(k, Is.LessThan(n), $"{m.Value} outside {prefix}<{n}>\n{text}");
        }
        var labels = LabelDefinition().Matches(text).Select(m => m.Groups[1].Value).ToList();
        Assert.That(labels, Is.Unique, "label defined twice");
        foreach (Match m in LabelUse().Matches(text))
            Assert.That(labels, Does.Contain(m.Groups[1].Value), $"branch to undefined label {m.Groups[1].Value}\n{text}");
        Assert.That(text.Count(c => c == '{'), Is.EqualTo(text.Count(c => c == '}')), "unbalanced braces");
        Assert.That(text.Count(c => c == '['), Is.EqualTo(text.Count(c => c == ']')), "unbalanced brackets");
        Assert.That(text, Does.Contain(".version ").And.Contain(".target sm_").And.Contain(".address_size 64"));
        Assert.That(text, Does.Contain($".visible .entry {module.EntryName}("));
        // Every statement line inside the body ends with ';' (instructions, declarations) or ':' (labels).
        int open = text.IndexOf("\n{\n", StringComparison.Ordinal);
        Assert.That(open, Is.GreaterThan(0));
        foreach (string raw in text[(open + 3)..].Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith("//", StringComparison.Ordinal) || line == "}") continue;
            Assert.That(line.EndsWith(';') || line.EndsWith(':'), Is.True, $"unterminated line: {line}");
        }
        // The entry name and every label are PTX identifiers.
        Assert.That(module.EntryName, Does.Match(@"^([A-Za-z][A-Za-z0-9_$]*|[_$%][A-Za-z0-9_$]+)$"));
    }

    /// <summary>The instruction lines (no labels, comments or declarations).</summary>
    public static IEnumerable<string> Instructions(PtxModule module)
        => module.Text.Split('\n').Select(l => l.Trim())
            .Where(l => l.EndsWith(';') && !l.StartsWith('.') && !l.StartsWith("//", StringComparison.Ordinal));

    /// <summary>With FLASHATTN_PTX_DUMP set to a folder, writes the module there (for checking with the driver's JIT).</summary>
    public static void Dump(PtxModule module, string name)
    {
        string? folder = Environment.GetEnvironmentVariable("FLASHATTN_PTX_DUMP");
        if (string.IsNullOrEmpty(folder)) return;
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, PtxBackend.SanitizeName(name) + ".ptx"), module.Text);
    }

    /// <summary>
    /// Runs the register moves of the straight-line code between <paramref name="fromLabel"/> and the next
    /// branch on symbolic register contents and returns the final contents.
    /// </summary>
    public static Dictionary<string, string> SimulateMoves(PtxModule module, string fromLabel, IEnumerable<string> registers)
    {
        var state = registers.ToDictionary(r => r, r => r);
        var lines = module.Text.Split('\n').Select(l => l.Trim()).ToList();
        int start = lines.IndexOf(fromLabel + ":");
        Assert.That(start, Is.GreaterThanOrEqualTo(0), $"label {fromLabel} not found");
        for (int i = start + 1; i < lines.Count; i++)
        {
            string line = lines[i];
            if (line.StartsWith("bra", StringComparison.Ordinal) || line.StartsWith('@') || line.EndsWith(':')) break;
            var m = Regex.Match(line, @"^mov\.\w+\s+(%\w+),\s+(%\w+);$");
            if (!m.Success) continue;
            state[m.Groups[1].Value] = state.TryGetValue(m.Groups[2].Value, out var v) ? v : m.Groups[2].Value;
        }
        return state;
    }
}
