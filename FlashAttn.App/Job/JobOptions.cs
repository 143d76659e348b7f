using System.Globalization;

namespace FlashAttn.Job;

/// <summary>Command-line options of the main job; null members take the device's defaults.</summary>
internal sealed record JobOptions
{
    /// <summary>"cpu", "cuda" or "cpu-emulator"; null picks the default device.</summary>
    public DeviceKind? Device { get; init; }
    public int? SeqLen { get; init; }
    public int? Batch { get; init; }
    public int? Heads { get; init; }
    public int? HeadDim { get; init; }
    /// <summary>Element types to run; null runs the device's default list.</summary>
    public DType? DType { get; init; }
    /// <summary>true: causal only; false: non-causal only; null: both.</summary>
    public bool? Causal { get; init; }
    /// <summary>Timed iterations after the warm-up; null picks by device.</summary>
    public int? Iterations { get; init; }
    /// <summary>Query rows checked against fp64.</summary>
    public int Samples { get; init; } = 32;
    /// <summary>Print usage and exit.</summary>
    public bool Help { get; init; }

    public const string Usage = """
        usage: dotnet run -c Release --project FlashAttn.App -- [options]
          --device cpu|cuda|cpu-emulator  device (default: CUDA when present, else CPU); cpu-emulator runs
                                the GPU kernels on the GPU-emulating CPU accelerator (slow: for testing)
          --batch N             batch size            (CUDA 4,    CPU 1,    emulator 1)
          --seqlen N            sequence length       (CUDA 4096, CPU 2048, emulator 512)
          --heads N             heads                 (CUDA 16,   CPU 8,    emulator 4)
          --headdim N           head dimension 1-256  (CUDA 128,  CPU 64,   emulator 64)
          --dtype fp32|fp16|bf16  element type        (CUDA fp16 and fp32, CPU fp32)
          --causal [true|false] causal mask only / non-causal only (default: both)
          --iterations N        timed runs after the warm-up (CUDA 10, CPU 3, emulator 1)
          --samples N           query rows checked against fp64 (default 32)
          --help                this text
        """;

    /// <summary>Parses <paramref name="args"/>.</summary>
    /// <exception cref="FormatException">An unknown option, a missing or invalid value; the message says which.</exception>
    public static JobOptions Parse(IReadOnlyList<string> args)
    {
        var options = new JobOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string name = arg;
            string? value = null;
            int eq = arg.IndexOf('=');
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                name = arg[..eq];
                value = arg[(eq + 1)..];
            }
            string Next()
            {
                if (value is not null) return value;
                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    throw new FormatException($"{name} needs a value.");
                return args[++i];
            }
            options = name.ToLowerInvariant() switch
            {
                "--device" => options with { Device = ParseDevice(Next()) },
                "--seqlen" => options with { SeqLen = Positive(name, Next()) },
                "--batch" => options with { Batch = Positive(name, Next()) },
                "--heads" => options with { Heads = Positive(name, Next()) },
                "--headdim" => options with { HeadDim = Positive(name, Next()) },
                "--dtype" => options with { DType = ParseDType(Next()) },
                "--iterations" => options with { Iterations = Positive(name, Next()) },
                "--samples" => options with { Samples = Positive(name, Next()) },
                "--causal" => options with { Causal = ParseCausal(value, args, ref i) },
                "--no-causal" => options with { Causal = false },
                "--help" or "-h" or "-?" => options with { Help = true },
                _ => throw new FormatException($"Unknown option '{arg}'."),
            };
        }
        return options;
    }

    private static bool ParseCausal(string? value, IReadOnlyList<string> args, ref int i)
    {
        if (value is null && i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            value = args[++i];
        if (value is null) return true;
        return bool.TryParse(value, out bool causal) ? causal : throw new FormatException($"--causal takes true or false, not '{value}'.");
    }

    private static int Positive(string name, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value > 0
            ? value
            : throw new FormatException($"{name} takes a positive integer, not '{text}'.");

    private static DeviceKind ParseDevice(string text) => text.ToLowerInvariant() switch
    {
        "cpu" => DeviceKind.Cpu,
        "cuda" or "gpu" => DeviceKind.Cuda,
        "cpu-emulator" or "emulator" => DeviceKind.CpuEmulator,
        _ => throw new FormatException($"--device takes cpu, cuda or cpu-emulator, not '{text}'."),
    };

    private static DType ParseDType(string text) => text.ToLowerInvariant() switch
    {
        "fp32" or "float32" or "float" or "f32" => FlashAttn.DType.Float32,
        "fp16" or "float16" or "half" or "f16" => FlashAttn.DType.Float16,
        "bf16" or "bfloat16" => FlashAttn.DType.BFloat16,
        _ => throw new FormatException($"--dtype takes fp32, fp16 or bf16, not '{text}'."),
    };
}
