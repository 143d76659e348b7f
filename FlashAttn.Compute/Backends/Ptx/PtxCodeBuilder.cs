using System.Globalization;
using System.Text;
using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Backends.Ptx;

/// <summary>
/// The state shared by the emitters while one kernel is written: the body text, the registers, the
/// module- and function-scope declarations and operand formatting (registers and PTX immediates).
/// </summary>
internal sealed class PtxCodeBuilder(Function function, PtxTarget target, PtxEmitOptions options)
{
    private readonly StringBuilder _body = new();
    private int _localCount, _sharedCount, _labelCount;

    /// <summary>The kernel being written.</summary>
    public Function Function { get; } = function;

    /// <summary>ISA version and architecture.</summary>
    public PtxTarget Target { get; } = target;

    /// <summary>Code generation choices.</summary>
    public PtxEmitOptions Options { get; } = options;

    /// <summary>Virtual registers.</summary>
    public PtxRegisterAllocator Registers { get; } = new();

    /// <summary>Module-scope declarations (<c>.shared</c> arrays, the dynamic shared array).</summary>
    public List<string> ModuleDeclarations { get; } = [];

    /// <summary>Function-scope declarations (<c>.local</c> arrays).</summary>
    public List<string> FunctionDeclarations { get; } = [];

    /// <summary>Bytes of static shared memory declared so far (each array padded to its alignment).</summary>
    public int StaticSharedBytes { get; set; }

    /// <summary>True once the dynamic shared array has been declared.</summary>
    public bool DynamicSharedDeclared { get; set; }

    /// <summary>True once an instruction of the architecture-specific feature set (wgmma: sm_90a) is written: the module then
    /// targets <c>sm_XXa</c>.</summary>
    public bool ArchitectureSpecific { get; set; }

    /// <summary>The body written so far.</summary>
    public string Body => _body.ToString();

    /// <summary>True when the target has <c>cvt.f32.bf16</c> (sm_90, PTX 7.8).</summary>
    public bool HasBf16ToF32Cvt => Target.SmVersion >= 90 && (Target.IsaMajor > 7 || (Target.IsaMajor == 7 && Target.IsaMinor >= 8));

    /// <summary>Writes one instruction (the trailing semicolon is added).</summary>
    public void Emit(string instruction) => _body.Append('\t').Append(instruction).Append(";\n");

    /// <summary>Writes a label.</summary>
    public void Label(string label) => _body.Append(label).Append(":\n");

    /// <summary>Writes a comment line.</summary>
    public void Comment(string text) => _body.Append("\t// ").Append(text.Replace('\n', ' ')).Append('\n');

    private Dictionary<(Instruction Aggregate, int Index), Instruction>? _extracts;

    /// <summary>The first Extract of component <paramref name="index"/> of a multi-result intrinsic, or null when none uses it.</summary>
    public Instruction? ComponentExtract(Instruction aggregate, int index)
    {
        if (_extracts is null)
        {
            _extracts = [];
            foreach (var i in Function.AllInstructions)
                if (i.Op == Opcode.Extract && i.Operands[0] is Instruction a) _extracts.TryAdd((a, i.Index), i);
        }
        return _extracts.GetValueOrDefault((aggregate, index));
    }

    /// <summary>
    /// The registers a multi-result intrinsic writes: component k goes straight into the register of its first Extract
    /// (so the Extract costs nothing), or into a fresh register of <paramref name="registerClass"/> when unused.
    /// </summary>
    public string[] ComponentRegisters(Instruction aggregate, int count, PtxRegisterClass registerClass)
    {
        var registers = new string[count];
        for (int k = 0; k < count; k++)
            registers[k] = ComponentExtract(aggregate, k) is { } extract ? Def(extract) : Temp(registerClass);
        return registers;
    }

    /// <summary>A fresh register of class <paramref name="c"/>.</summary>
    public string Temp(PtxRegisterClass c) => Registers.New(c);

    /// <summary>A fresh label name.</summary>
    public string NewLabel(string hint) => $"$L__{hint}{_labelCount++}";

    /// <summary>A fresh name for a <c>.local</c> array.</summary>
    public string NewLocalName() => $"__local_{_localCount++}";

    /// <summary>A fresh name for a <c>.shared</c> array.</summary>
    public string NewSharedName() => $"__shared_{_sharedCount++}";

    /// <summary>The register of the value defined by <paramref name="value"/>.</summary>
    public string Def(Value value) => Registers.Of(value);

    /// <summary>
    /// The value as a register: a constant is first moved into a fresh register (PTX immediates are not
    /// allowed everywhere).
    /// </summary>
    public string Reg(Value value)
    {
        if (value is not Constant c) return Registers.Of(value);
        var cls = PtxRegisters.ClassOf(c.Type);
        string register = Temp(cls);
        Emit($"mov{PtxRegisters.MoveType(cls)} {register}, {Immediate(c)}");
        return register;
    }

    /// <summary>
    /// The value as a source operand: integer, f32 and f64 constants as PTX immediates; f16, bf16 and
    /// Bool constants through a register.
    /// </summary>
    public string Src(Value value)
    {
        if (value is Constant c && c.Type.Kind is not (TypeKind.Bool or TypeKind.Float16 or TypeKind.BFloat16))
            return Immediate(c);
        return Reg(value);
    }

    /// <summary>The PTX spelling of a constant: decimal integers, <c>0fXXXXXXXX</c>, <c>0dXXXXXXXXXXXXXXXX</c>,
    /// 16-bit floats as <c>0xXXXX</c> (for <c>mov.b16</c>).</summary>
    public static string Immediate(Constant c) => c.Type.Kind switch
    {
        TypeKind.Float32 => F32(c.Float),
        TypeKind.Float64 => "0d" + BitConverter.DoubleToInt64Bits(c.Float).ToString("X16", CultureInfo.InvariantCulture),
        TypeKind.Float16 => "0x" + BitConverter.HalfToUInt16Bits((Half)c.Float).ToString("X4", CultureInfo.InvariantCulture),
        TypeKind.BFloat16 => "0x" + (BitConverter.SingleToUInt32Bits((float)c.Float) >> 16).ToString("X4", CultureInfo.InvariantCulture),
        _ => c.Bits.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>An f32 immediate.</summary>
    public static string F32(double value)
        => "0f" + BitConverter.SingleToUInt32Bits((float)value).ToString("X8", CultureInfo.InvariantCulture);

    /// <summary>An f64 immediate.</summary>
    public static string F64(double value)
        => "0d" + BitConverter.DoubleToInt64Bits(value).ToString("X16", CultureInfo.InvariantCulture);

    /// <summary>A <see cref="CompilationException"/> naming the kernel.</summary>
    public CompilationException Error(string construct)
        => new(Function.Source, -1, $"PTX backend ({Function.Name}): {construct}");
}

/// <summary>Code generation choices of the PTX backend.</summary>
/// <param name="AllowFloatContraction">
/// When true (the default, as nvcc's <c>-fmad=true</c>), float add/sub/mul are written without a rounding
/// modifier so ptxas may fuse a multiply and an add into one <c>fma</c> (faster; results may differ from
/// the CPU in the last bits). When false they are written <c>.rn</c>, which forbids contraction and gives
/// C#'s exact IEEE semantics.
/// </param>
/// <param name="VectorizeMemoryAccess">Merge 2 or 4 consecutive aligned f32/i32 loads (stores) into
/// <c>.v2</c>/<c>.v4</c> accesses.</param>
public sealed record PtxEmitOptions(bool AllowFloatContraction = true, bool VectorizeMemoryAccess = true)
{
    /// <summary>A phi and the operands that pass through to it with live ranges apart from it share one register
    /// (<see cref="PtxPhiCoalescing"/>), so their edges need no copy, except in kernels that call <see cref="PhiCopies.KeepAll"/>;
    /// default from <see cref="CoalescePhisVariable"/>.</summary>
    public bool CoalescePhis { get; init; } = CoalescePhisDefault;

    /// <summary>
    /// Environment variable: <c>off</c> writes every phi's copy on every edge (<see cref="PtxPhiCoalescing"/> not run). Measured
    /// both ways on one bundle (H100, 2026-12-07, 3028380; two interleaved rounds, docs/performance.md's kernel log, v37): the
    /// fp16 forward +3.5% (d = 64 +4 to +6%, d = 128 +1 to +2%), the backward 0.999×; the forward with ALiBi, a user bias or a
    /// block mask 1–3% slower, with dropout 2–3% faster, the modified backwards 1–4% faster. Part of the kernel cache's key.
    /// </summary>
    public const string CoalescePhisVariable = "FLASHATTN_COALESCE_PHIS";

    /// <summary>The process's setting of <see cref="CoalescePhisVariable"/> (on unless it says <c>off</c>).</summary>
    public static bool CoalescePhisDefault { get; } =
        !string.Equals(Environment.GetEnvironmentVariable(CoalescePhisVariable), "off", StringComparison.OrdinalIgnoreCase);

    /// <summary>The defaults (after <see cref="CoalescePhisDefault"/>: static initialisers run in order).</summary>
    public static PtxEmitOptions Default { get; } = new();
}
