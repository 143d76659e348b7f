using System.Reflection;
using FlashAttn.Compute;
using FlashAttn.Compute.Backends.Ptx;

namespace FlashAttn.Bench.Engine;

/// <summary><c>ptx TYPE.METHOD [FILE]</c>: writes a benchmark kernel's PTX (no GPU needed), for reading and for ptxas.</summary>
internal static class PtxDump
{
    public static int Run(string qualifiedName, string? path)
    {
        int dot = qualifiedName.LastIndexOf('.');
        var type = typeof(PtxDump).Assembly.GetTypes().FirstOrDefault(t => t.Name == qualifiedName[..dot]);
        var method = type?.GetMethod(qualifiedName[(dot + 1)..], BindingFlags.Public | BindingFlags.Static);
        if (method is null)
        {
            Console.Error.WriteLine($"no kernel {qualifiedName}");
            return 2;
        }
        var compiled = KernelCompiler.Instance.Compile(method, new object?[method.GetParameters().Length], PtxTarget.Default);
        if (path is null) Console.WriteLine(compiled.Ptx);
        else File.WriteAllText(path, compiled.Ptx);
        return 0;
    }
}
