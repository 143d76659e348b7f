using FlashAttn.Compute.IR;

namespace FlashAttn.Compute.Backends.Ptx;

/// <summary>
/// Gives every SSA value (and every temporary the emitter needs) its own virtual register; ptxas does
/// the real allocation. Registers are numbered from 0 per class and declared as <c>.reg .f32 %f&lt;N&gt;;</c>.
/// </summary>
internal sealed class PtxRegisterAllocator
{
    private readonly int[] _counts = new int[PtxRegisters.All.Length];
    private readonly Dictionary<Value, string> _assigned = new(ReferenceEqualityComparer.Instance);

    /// <summary>A fresh register of class <paramref name="c"/>.</summary>
    public string New(PtxRegisterClass c) => PtxRegisters.Prefix(c) + _counts[(int)c]++.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The register of <paramref name="value"/> (assigned on first request).</summary>
    public string Of(Value value)
    {
        if (!_assigned.TryGetValue(value, out var register))
        {
            register = New(PtxRegisters.ClassOf(value.Type));
            _assigned[value] = register;
        }
        return register;
    }

    /// <summary>Makes <paramref name="value"/> live in <paramref name="register"/> (no code emitted).</summary>
    public void Alias(Value value, string register) => _assigned[value] = register;

    /// <summary>The <c>.reg</c> declarations of every class used at least once.</summary>
    public IEnumerable<string> Declarations()
    {
        foreach (var c in PtxRegisters.All)
            if (_counts[(int)c] > 0)
                yield return $".reg {PtxRegisters.DeclarationType(c)} {PtxRegisters.Prefix(c)}<{_counts[(int)c]}>;";
    }
}
