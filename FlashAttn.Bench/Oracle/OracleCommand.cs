using System.Diagnostics;
using System.Text.Json;
using FlashAttn.Compute;

namespace FlashAttn.Bench.Oracle;

/// <summary>
/// <c>oracle --dir D [--device default|cpu|cuda]</c>: runs the cases of <c>D/cases.json</c> through the public API
/// (<see cref="FlashAttention.Forward(DeviceTensor, DeviceTensor, DeviceTensor, AttentionOptions)"/> with the
/// log-sum-exp, then <see cref="FlashAttention.Backward(DeviceTensor, DeviceTensor, DeviceTensor, DeviceTensor, DeviceTensor, DeviceTensor, AttentionOptions)"/>)
/// and writes each case's o.bin, dq.bin, dk.bin, dv.bin (the case's dtype) and lse.bin (fp32, (b, h_q, s_q)) into its
/// folder, and <c>D/results.json</c>. <c>scripts/gpu/torch_oracle.py</c> writes the cases and checks the results
/// against PyTorch in fp64: the project's correctness oracle from outside.
/// </summary>
internal static class OracleCommand
{
    /// <summary>Input names in the case folder.</summary>
    private const string QFile = "q.bin", KFile = "k.bin", VFile = "v.bin", DOutputFile = "do.bin";

    /// <summary>Output names in the case folder.</summary>
    private static readonly string[] OutputFiles = ["o.bin", "lse.bin", "dq.bin", "dk.bin", "dv.bin"];

    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true };

    /// <summary>The verb's command line (the arguments after "oracle"). Exit code 0 when every case ran, 1 when one failed, 2 on usage.</summary>
    public static int Run(string[] args)
    {
        string? dir = null, deviceName = "default";
        bool usage = args.Length % 2 != 0;
        for (int i = 0; i + 1 < args.Length; i += 2)
            switch (args[i])
            {
                case "--dir": dir = args[i + 1]; break;
                case "--device": deviceName = args[i + 1]; break;
                default: usage = true; break;
            }
        if (usage || dir is null || deviceName is not ("default" or "cpu" or "cuda"))
        {
            Console.Error.WriteLine("usage: FlashAttn.Bench oracle --dir DIR [--device default|cpu|cuda]");
            return 2;
        }
        using var device = deviceName switch
        {
            "cpu" => Device.Cpu(),
            "cuda" => Device.Cuda(),
            _ => Device.CreateDefault(),
        };
        return Run(dir, device, Console.Out);
    }

    /// <summary>Runs every case of <paramref name="dir"/>/cases.json on <paramref name="device"/>; a case that throws is recorded and the rest still run.</summary>
    /// <returns>0 when every case ran, 1 when at least one failed.</returns>
    /// <exception cref="IOException">The manifest cannot be read.</exception>
    /// <exception cref="JsonException">The manifest is not valid JSON of the expected form.</exception>
    public static int Run(string dir, Device device, TextWriter log)
    {
        var manifest = JsonSerializer.Deserialize<OracleManifest>(File.ReadAllText(Path.Combine(dir, "cases.json")))
            ?? throw new InvalidDataException("cases.json is null.");
        var statuses = new List<OracleStatus>();
        foreach (var c in manifest.Cases)
        {
            var watch = Stopwatch.StartNew();
            var status = RunCase(c, dir, device);
            // Seconds in the log only (compilation included): results.json is about numbers, not speed.
            log.WriteLine($"oracle {c.Name}: {status.Status} ({watch.Elapsed.TotalSeconds:F1} s){(status.Error is null ? "" : " — " + status.Error)}");
            statuses.Add(status);
        }
        File.WriteAllText(Path.Combine(dir, "results.json"), JsonSerializer.Serialize(new OracleResults(device.ToString(), statuses), s_json));
        int failed = statuses.Count(s => s.Status != "ok");
        log.WriteLine($"oracle: {statuses.Count - failed} of {statuses.Count} cases ran on {device}");
        return failed == 0 ? 0 : 1;
    }

    private static OracleStatus RunCase(OracleCase c, string dir, Device device)
    {
        try
        {
            if (c.Name.Length == 0 || c.Name.Any(ch => !(char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-' or '.')) || c.Name.Contains(".."))
                throw new InvalidDataException($"case name \"{c.Name}\": use letters, digits, '_', '-', '.'.");
            string folder = Path.Combine(dir, c.Name);
            // A failed case must not leave an earlier run's outputs behind.
            foreach (string file in OutputFiles) File.Delete(Path.Combine(folder, file));
            switch (c.ParseDtype())
            {
                case DType.Float32: RunCase<float>(c, folder, device); break;
                case DType.Float16: RunCase<Half>(c, folder, device); break;
                default: RunCase<BFloat16>(c, folder, device); break;
            }
            return new OracleStatus(c.Name, "ok", null);
        }
        catch (Exception e)
        {
            return new OracleStatus(c.Name, "error", $"{e.GetType().Name}: {e.Message}");
        }
    }

    private static void RunCase<T>(OracleCase c, string folder, Device device) where T : unmanaged
    {
        using var slopes = c.Alibi ? DeviceTensor.Upload<float>(device, c.AlibiSlopes(), c.HeadsQ) : null;
        var options = c.Options() with { AlibiSlopes = slopes };
        using var q = Load<T>(device, Path.Combine(folder, QFile), c.QShape);
        using var k = Load<T>(device, Path.Combine(folder, KFile), c.KvShape);
        using var v = Load<T>(device, Path.Combine(folder, VFile), c.KvShape);
        using var dOutput = Load<T>(device, Path.Combine(folder, DOutputFile), c.QShape);
        using var forward = FlashAttention.Forward(q, k, v, options);
        var lse = forward.Lse ?? throw new InvalidOperationException("Forward returned no log-sum-exp although ReturnLse was set.");
        using var gradients = FlashAttention.Backward(dOutput, q, k, v, forward.Output, lse, options);
        RawTensorFile.Write<T>(Path.Combine(folder, "o.bin"), forward.Output.ToArray());
        RawTensorFile.Write<float>(Path.Combine(folder, "lse.bin"), lse.ToArray());
        RawTensorFile.Write<T>(Path.Combine(folder, "dq.bin"), gradients.DQ.ToArray());
        RawTensorFile.Write<T>(Path.Combine(folder, "dk.bin"), gradients.DK.ToArray());
        RawTensorFile.Write<T>(Path.Combine(folder, "dv.bin"), gradients.DV.ToArray());
    }

    private static DeviceTensor<T> Load<T>(Device device, string path, int[] shape) where T : unmanaged
    {
        long count = 1;
        foreach (int n in shape) count *= n;
        return DeviceTensor.Upload<T>(device, RawTensorFile.Read<T>(path, count), shape);
    }
}
