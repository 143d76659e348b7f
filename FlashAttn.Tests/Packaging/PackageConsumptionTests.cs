using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Reflection.PortableExecutable;
using System.Runtime.InteropServices;
using System.Text;

namespace FlashAttn.Tests.Packaging;

/// <summary>
/// What an adopter does: pack the libraries, add the package to a fresh console project from a local folder feed,
/// run one forward on the CPU. Packs the already-built assemblies (no rebuild) under a version of its own, and
/// restores into a private packages folder, so no earlier package in the machine's NuGet cache can stand in for
/// this build and the cache gains nothing. Other packages come from the machine's NuGet cache and configuration;
/// failed sources are ignored, so the test needs no network once the solution has been restored.
/// </summary>
[NonParallelizable]
public class PackageConsumptionTests
{
    private const string ConsumerProgram = """
        using FlashAttn;

        using var device = Device.Cpu();
        int batch = 1, seqLen = 5, heads = 2, headDim = 8;
        var data = new float[batch * seqLen * heads * headDim];
        for (int i = 0; i < data.Length; i++) data[i] = (i % 7 - 3) * 0.25f;
        using var q = DeviceTensor.Upload<float>(device, data, batch, seqLen, heads, headDim);
        using var k = DeviceTensor.Upload<float>(device, data, batch, seqLen, heads, headDim);
        using var v = DeviceTensor.Upload<float>(device, data, batch, seqLen, heads, headDim);
        using var output = FlashAttention.Forward(q, k, v, causal: true);
        float[] result = output.ToArray();
        // Row 0 sees only key 0, so its output is v's row 0.
        bool ok = result.All(float.IsFinite) && result.AsSpan(0, headDim).SequenceEqual(data.AsSpan(0, headDim));
        Console.WriteLine(ok ? "consumer: ok" : "consumer: wrong output");
        // which FlashAttn assemblies the host loaded as ReadyToRun images (the packages' runtimes/<rid>/lib/)
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies().Where(a => a.GetName().Name!.StartsWith("FlashAttn")).OrderBy(a => a.GetName().Name))
        {
            using var pe = new System.Reflection.PortableExecutable.PEReader(File.OpenRead(assembly.Location));
            Console.WriteLine($"precompiled {assembly.GetName().Name}: {pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size > 0}");
        }
        return ok ? 0 : 1;
        """;

    [Test, CancelAfter(240_000)]
    public void APackedBuildRestoresIntoAFreshConsoleProjectAndRuns()
    {
        string? root = FindRepositoryRoot();
        if (root is null) Assert.Ignore("no source tree beside the test assembly (a published test bundle)");
        string configuration = typeof(PackageConsumptionTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        string version = $"0.0.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        string work = Directory.CreateTempSubdirectory("flashattn-package-").FullName;
        try
        {
            string feed = Path.Combine(work, "feed");
            Run(root, "pack", Path.Combine(root, "FlashAttn.sln"), "-c", configuration, "--no-build", "-o", feed, $"-p:Version={version}");
            Assert.That(Path.Combine(feed, $"FlashAttn.{version}.nupkg"), Does.Exist);
            Assert.That(Path.Combine(feed, $"FlashAttn.{version}.snupkg"), Does.Exist);

            string consumer = Path.Combine(work, "consumer");
            Directory.CreateDirectory(consumer);
            File.WriteAllText(Path.Combine(consumer, "Program.cs"), ConsumerProgram);
            File.WriteAllText(Path.Combine(consumer, "consumer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                    <RestorePackagesPath>{Path.Combine(work, "packages")}</RestorePackagesPath>
                    <RestoreAdditionalProjectFallbackFolders>{GlobalPackagesFolder()}</RestoreAdditionalProjectFallbackFolders>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="FlashAttn" Version="{version}" />
                  </ItemGroup>
                </Project>
                """);
            // Adds the feed to the machine's sources (no <clear/>), as `dotnet add package --source` users do.
            File.WriteAllText(Path.Combine(consumer, "NuGet.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="flashattn-local" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            Run(consumer, "restore", "--ignore-failed-sources");
            string output = Run(consumer, "run", "--no-restore", "-c", "Release");
            Assert.That(output, Does.Contain("consumer: ok"));
            // where the packages carry ReadyToRun images for this platform, the host runs them
            bool precompiled = ReadyToRunRuntimes.ContainsKey(RuntimeInformation.RuntimeIdentifier);
            foreach (string assembly in new[] { "FlashAttn.Compute", "FlashAttn.Core", "FlashAttn.Kernels" })
                Assert.That(output, Does.Contain($"precompiled {assembly}: {precompiled}"));

            foreach (var (package, assembly) in new[] { ("FlashAttn", "FlashAttn.Core"), ("FlashAttn.Compute", "FlashAttn.Compute"),
                         ("FlashAttn.Kernels", "FlashAttn.Kernels"), ("FlashAttn.ILGPU", "FlashAttn.ILGPU") })
                AssertReadyToRunImages(Path.Combine(feed, $"{package}.{version}.nupkg"), assembly);
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>The runtimes whose ReadyToRun images each package carries (Directory.Build.targets), and the machine field of
    /// such an image's PE header: the CPU's, XOR-ed with 0x7B79 for Linux (none for Windows).</summary>
    private static readonly Dictionary<string, ushort> ReadyToRunRuntimes = new()
    {
        ["linux-x64"] = 0x8664 ^ 0x7B79,
        ["win-x64"] = 0x8664,
        ["linux-arm64"] = 0xAA64 ^ 0x7B79,
    };

    /// <summary>The package holds the assembly's IL in lib/ and, per runtime, a ReadyToRun image compiled for that runtime
    /// (each a different image: the SDK's shared output folder once handed the first runtime's image to the others).</summary>
    private static void AssertReadyToRunImages(string package, string assembly)
    {
        using var zip = ZipFile.OpenRead(package);
        Assert.That(ReadyToRunInfo(zip, $"lib/net10.0/{assembly}.dll").Precompiled, Is.False, $"{assembly} in lib/ is IL only");
        foreach (var (runtime, machine) in ReadyToRunRuntimes)
        {
            var image = ReadyToRunInfo(zip, $"runtimes/{runtime}/lib/net10.0/{assembly}.dll");
            Assert.That(image.Precompiled, Is.True, $"{assembly} for {runtime} is a ReadyToRun image");
            Assert.That(image.Machine, Is.EqualTo(machine), $"{assembly} for {runtime} is compiled for {runtime}");
        }
    }

    private static (bool Precompiled, ushort Machine) ReadyToRunInfo(ZipArchive zip, string path)
    {
        var entry = zip.GetEntry(path);
        Assert.That(entry, Is.Not.Null, $"no {path} in the package");
        using var copy = new MemoryStream();
        using (var stream = entry!.Open()) stream.CopyTo(copy);
        copy.Position = 0;
        using var pe = new PEReader(copy);
        return (pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size > 0, (ushort)pe.PEHeaders.CoffHeader.Machine);
    }

    /// <summary>The folder holding FlashAttn.sln above the test assembly, or null.</summary>
    private static string? FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FlashAttn.sln"))) return dir.FullName;
        return null;
    }

    private static string GlobalPackagesFolder()
        => Environment.GetEnvironmentVariable("NUGET_PACKAGES")
           ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>Runs the dotnet CLI; fails the test with its output on a non-zero exit.</summary>
    private static string Run(string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        start.ArgumentList.Add("--nologo");
        // The test host may run inside an MSBuild-driven `dotnet test`; the child builds must not inherit its settings.
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";

        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, $"dotnet {string.Join(' ', arguments)} failed:\n{output}");
        return output.ToString();
    }
}
