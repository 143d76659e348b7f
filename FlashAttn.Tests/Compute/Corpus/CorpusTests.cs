using FlashAttn.Compute;
using FlashAttn.Compute.Backends.Ptx;
using FlashAttn.Compute.Interpreter;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cpu;
using FlashAttn.Compute.Runtime.Cuda;
using FlashAttn.Tests.Support;

namespace FlashAttn.Tests.Compute.Corpus;

/// <summary>
/// Every corpus kernel four ways: on the CPU accelerator (managed code), through the IR interpreter
/// (the compiler's optimized IR), as PTX (generated and checked for structure), and on CUDA when a GPU
/// is present. All against the same plain C# reference.
/// </summary>
[NonParallelizable]
public class CorpusTests
{
    private static readonly Dictionary<string, CorpusCase> s_cases = CorpusCases.All().ToDictionary(c => c.Name);
    private CpuAccelerator? _cpu;

    public static IEnumerable<string> CaseNames => s_cases.Keys;

    public static IEnumerable<string> CudaCaseNames => CudaOnly.Cases(s_cases.Keys);

    [OneTimeSetUp]
    public void CreateCpu() => _cpu = new CpuAccelerator();

    [OneTimeTearDown]
    public void DisposeCpu() => _cpu?.Dispose();

    [Test]
    public void CorpusHasAtLeastThirtyKernels() => Assert.That(s_cases, Has.Count.GreaterThanOrEqualTo(30));

    [TestCaseSource(nameof(CaseNames))]
    public void RunsOnCpuAccelerator(string name)
        => Run(s_cases[name], _cpu!, (c, data, args) => _cpu!.LoadKernel(c.Kernel).Launch(data.Config, args));

    [TestCaseSource(nameof(CaseNames))]
    public void RunsThroughIRInterpreter(string name)
        => Run(s_cases[name], _cpu!, (c, data, args) =>
        {
            var entry = KernelCompiler.Instance.BuildOptimizedIR(c.Kernel, KernelCompiler.SpecializationsOf(c.Kernel, args));
            IRInterpreter.Launch(entry, data.Config, args);
        });

    [TestCaseSource(nameof(CaseNames))]
    public void CompilesToPtx(string name)
    {
        var c = s_cases[name];
        var data = c.Create(new Random(1));
        object[] args = ArgumentsForCompilation(c, data);
        var compiled = KernelCompiler.Instance.Compile(c.Kernel, KernelCompiler.SpecializationsOf(c.Kernel, args), PtxTarget.Default);
        string ptx = compiled.Ptx;
        if (Environment.GetEnvironmentVariable("FLASHATTN_PTX_DUMP") is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, string.Concat(name.Split('<', '>', ',')) + ".ptx"), ptx);
        }
        Assert.That(ptx, Does.Contain(".visible .entry " + compiled.EntryName));
        Assert.That(ptx, Does.Contain(".target sm_90"));
        if (c.ExpectNoLocalMemory)
            Assert.That(ptx, Does.Not.Contain(".local"), "register arrays must be promoted to registers");
        c.CheckPtx?.Invoke(ptx);
    }

    [TestCaseSource(nameof(CudaCaseNames)), Category("Gpu")]
    public void RunsOnCuda(string name)
    {
        using var cuda = new CudaAccelerator(0);
        Run(s_cases[name], cuda, (c, data, args) =>
        {
            var kernel = (CudaKernel)cuda.LoadKernel(c.Kernel);
            kernel.Launch(data.Config, args);
            cuda.Synchronize();
            if (c.ExpectNoLocalMemory)
            {
                var attributes = kernel.GetFunction(args).GetAttributes();
                Assert.That(attributes.HasNoSpills, $"ptxas left {attributes.LocalBytesPerThread} bytes of local memory per thread: {attributes}");
            }
        });
    }

    /// <summary>Arguments for compiling only: empty views of the right element types (nothing is launched).</summary>
    private static object[] ArgumentsForCompilation(CorpusCase c, CaseData data)
        => data.Arguments(data.Buffers
            .Select(b => Activator.CreateInstance(typeof(ArrayView<>).MakeGenericType(b.GetType().GetElementType()!))!)
            .ToArray());

    private static void Run(CorpusCase c, Accelerator accelerator, Action<CorpusCase, CaseData, object[]> launch)
    {
        var random = new Random(c.Name.Aggregate(17, (h, ch) => h * 31 + ch));
        var data = c.Create(random);
        var expected = data.Buffers.Select(b => (Array)b.Clone()).ToArray();
        data.Reference(expected);

        var arrays = data.Buffers.Select(b => DeviceArrays.Upload(accelerator, b)).ToList();
        try
        {
            var args = data.Arguments(arrays.Select(a => a.View).ToArray());
            launch(c, data, args);
            foreach (int o in data.Outputs)
                OutputComparer.AssertEqual($"{c.Name} output {o}", expected[o], arrays[o].Download(), data.Tolerance);
        }
        finally
        {
            arrays.ForEach(a => a.Dispose());
        }
    }
}
