using System.Diagnostics;
using System.Text.Json;
using FlashAttn.Bench.Kernels;
using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Bench.Engine;

/// <summary>
/// Compiler-quality benchmarks on a CUDA device: a vectorized copy against the driver's device-to-device
/// copy, a register-blocked SGEMM, and compile / cache-load times. Timing: CUDA events around the
/// launches after warm-up, median of the repeats, random inputs.
/// </summary>
internal static class EngineBenchmarks
{
    private const int Repeats = 20;

    public static int Run(string? jsonPath)
    {
        if (!CudaAccelerator.IsAvailable())
        {
            Console.Error.WriteLine("engine benchmarks need a CUDA device");
            return 2;
        }
        using var cuda = new CudaAccelerator(0);
        Console.WriteLine($"device: {cuda.Name}, driver {cuda.DriverVersion}, target {cuda.Target.TargetName}, SMs {cuda.Info.MultiprocessorCount}");
        var results = new List<Result>();
        results.AddRange(Copy(cuda));
        results.Add(Sgemm(cuda, 4096, SgemmKernels.Sgemm));
        results.Add(Sgemm(cuda, 4096, SgemmKernels.SgemmOneGroupPerMultiprocessor));
        results.Add(Sgemm(cuda, 4096, SgemmAsyncKernels.SgemmAsync));
        results.Add(Sgemm(cuda, 2048, SgemmKernels.Sgemm));
        results.Add(Sgemm(cuda, 2048, SgemmAsyncKernels.SgemmAsync));
        results.AddRange(CompileTimes(cuda));

        Console.WriteLine();
        Console.WriteLine("| benchmark | value | unit | note |");
        Console.WriteLine("| --- | ---: | --- | --- |");
        foreach (var r in results) Console.WriteLine($"| {r.Name} | {r.Value:F2} | {r.Unit} | {r.Note} |");
        if (jsonPath is not null)
            File.WriteAllText(jsonPath, JsonSerializer.Serialize(new { device = cuda.Name, driver = cuda.DriverVersion, date = DateTime.UtcNow, results }, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    public sealed record Result(string Name, double Value, string Unit, string Note);

    private static float TimeMedian(CudaAccelerator cuda, Action action, int repeats = Repeats)
    {
        for (int i = 0; i < 3; i++) action();
        cuda.Synchronize();
        using var start = cuda.CreateEvent();
        using var end = cuda.CreateEvent();
        var times = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            start.Record();
            action();
            end.Record();
            end.Synchronize();
            times.Add(CudaEvent.ElapsedMilliseconds(start, end));
        }
        return (float)Timing.Median.Of(times);
    }

    private static IEnumerable<Result> Copy(CudaAccelerator cuda)
    {
        const long floats = 1L << 28; // 1 GiB each way: far past the 50 MB L2
        var random = new Random(1);
        var host = new Float4[floats / 4];
        for (int i = 0; i < host.Length; i++) host[i] = new Float4(random.NextSingle() + 0.5f, random.NextSingle(), -random.NextSingle(), 1f + i);
        using var input = cuda.Allocate<Float4>(host.Length);
        using var output = cuda.Allocate<Float4>(host.Length);
        input.CopyFromHost(host);
        double bytes = 2.0 * floats * sizeof(float);

        float driverMs = TimeMedian(cuda, () => output.CopyFrom(input));
        double driver = bytes / driverMs / 1e6;
        Console.WriteLine($"driver cuMemcpyDtoD: {driver:F0} GB/s");

        var kernel = cuda.LoadKernel(CopyKernels.VectorizedCopy);
        double best = 0;
        int bestGroups = 0;
        foreach (int groupsPerSm in new[] { 4, 8, 16, 32 })
        {
            int groups = cuda.Info.MultiprocessorCount * groupsPerSm;
            float ms = TimeMedian(cuda, () => kernel.Launch(new LaunchConfig(groups, 256), input.View, output.View));
            double gbs = bytes / ms / 1e6;
            Console.WriteLine($"vectorized copy, {groups} groups x 256: {gbs:F0} GB/s");
            if (gbs > best) (best, bestGroups) = (gbs, groups);
        }
        output.MemSet(0);
        kernel.Launch(new LaunchConfig(bestGroups, 256), input.View, output.View);
        var check = new Float4[1 << 20];
        output.CopyToHost(check, host.Length - check.Length);
        for (int i = 0; i < check.Length; i++)
            if (!check[i].Equals(host[host.Length - check.Length + i])) throw new InvalidOperationException($"copy mismatch at {i}");

        yield return new Result("driver device-to-device copy", driver, "GB/s", "cuMemcpyDtoD, 1 GiB, bytes read + written");
        yield return new Result("vectorized copy kernel", best, "GB/s", $"{bestGroups} groups x 256 threads, Float4 grid-stride");
        yield return new Result("copy kernel / driver copy", 100 * best / driver, "%", "target >= 90%");
    }

    private static Result Sgemm(CudaAccelerator cuda, int size, Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> sgemm)
    {
        int m = size, n = size, k = size;
        var random = new Random(2);
        var a = new float[(long)m * k];
        var b = new float[(long)k * n];
        for (int i = 0; i < a.Length; i++) a[i] = random.NextSingle() - 0.5f;
        for (int i = 0; i < b.Length; i++) b[i] = random.NextSingle() - 0.5f;
        using var da = cuda.Allocate<float>(a.Length);
        using var db = cuda.Allocate<float>(b.Length);
        using var dc = cuda.Allocate<float>((long)m * n);
        da.CopyFromHost(a);
        db.CopyFromHost(b);
        var kernel = cuda.LoadKernel(sgemm);
        var config = new LaunchConfig(new Dim3(n / SgemmKernels.BlockN, m / SgemmKernels.BlockM), SgemmKernels.Threads);
        float ms = TimeMedian(cuda, () => kernel.Launch(config, da.View, db.View, dc.View, m, n, k));
        double tflops = 2.0 * m * n * k / ms / 1e9;

        var c = dc.ToArray();
        double maxError = 0;
        for (int s = 0; s < 64; s++)
        {
            int i = random.Next(m), j = random.Next(n);
            double sum = 0;
            for (int p = 0; p < k; p++) sum += (double)a[(long)i * k + p] * b[(long)p * n + j];
            maxError = Math.Max(maxError, Math.Abs(sum - c[(long)i * n + j]));
        }
        if (maxError > 1e-3) throw new InvalidOperationException($"SGEMM {size}: max error {maxError} on sampled entries");

        var attributes = ((CudaKernel)kernel).GetFunction(da.View, db.View, dc.View, m, n, k).GetAttributes();
        Console.WriteLine($"{sgemm.Method.Name} {size}^3: {tflops:F1} TFLOP/s ({ms:F3} ms), max sampled error {maxError:E1}, {attributes}");
        return new Result($"{sgemm.Method.Name} {size}^3 fp32", tflops, "TFLOP/s",
            $"{attributes.RegistersPerThread} regs, {attributes.LocalBytesPerThread} B local, sampled error {maxError:E1}");
    }

    private static IEnumerable<Result> CompileTimes(CudaAccelerator cuda)
    {
        string directory = Path.Combine(Path.GetTempPath(), "flashattn-bench-cache-" + Environment.ProcessId);
        Directory.CreateDirectory(directory);
        var method = typeof(SgemmKernels).GetMethod(nameof(SgemmKernels.Sgemm))!;
        object?[] specializations = new object?[method.GetParameters().Length];

        var watch = Stopwatch.StartNew();
        var cold = new KernelCache(KernelCompiler.Instance, directory);
        var compiled = cold.GetOrCompile(method, specializations, cuda.Info.ComputeCapability, cuda.DriverVersion);
        double ptxMs = watch.Elapsed.TotalMilliseconds;
        using (var module = CudaModule.Load(cuda, compiled.Ptx, compiled.EntryName)) module.GetFunction(compiled.EntryName);
        double coldMs = watch.Elapsed.TotalMilliseconds;

        watch.Restart();
        var warm = new KernelCache(KernelCompiler.Instance, directory);
        var fromDisk = warm.GetOrCompile(method, specializations, cuda.Info.ComputeCapability, cuda.DriverVersion);
        using (var module = CudaModule.Load(cuda, fromDisk.Ptx, fromDisk.EntryName)) module.GetFunction(fromDisk.EntryName);
        double diskMs = watch.Elapsed.TotalMilliseconds;
        Directory.Delete(directory, recursive: true);
        Console.WriteLine($"compile sgemm: IL->PTX {ptxMs:F0} ms, IL->PTX->module {coldMs:F0} ms, from disk cache {diskMs:F1} ms (disk hits {warm.DiskHits})");
        yield return new Result("compile IL -> PTX -> loaded module (sgemm)", coldMs, "ms", $"IL->PTX {ptxMs:F0} ms; target < 1000 ms");
        yield return new Result("load from on-disk cache (sgemm)", diskMs, "ms", "target < 50 ms");
    }
}
