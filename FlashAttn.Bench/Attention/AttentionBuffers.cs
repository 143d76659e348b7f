using FlashAttn.Bench.Results;
using FlashAttn.Compute.Runtime;
using FlashAttn.Kernels;

namespace FlashAttn.Bench.Attention;

/// <summary>
/// Preallocated device buffers of one shape for timing <see cref="AttentionLauncher"/> without allocation: several
/// sets of q, k, v, dOut (random) and output, lse, which timed runs rotate through (so consecutive runs do not find
/// their inputs in L2), and one dq, dk, dv the backward runs share.
/// </summary>
internal sealed class AttentionBuffers<T> : IDisposable where T : unmanaged
{
    /// <summary>Elements read back from each end of a result to check it.</summary>
    private const int CheckedElements = 4096;

    private readonly Accelerator _accelerator;
    private readonly AttentionShape _shape;
    private readonly List<IDisposable> _owned = [];
    private readonly InputSet[] _sets;
    private readonly MemoryBuffer<T>? _dq, _dk, _dv;

    /// <summary>Inputs and forward outputs of one rotation slot.</summary>
    private sealed record InputSet(MemoryBuffer<T> Q, MemoryBuffer<T> K, MemoryBuffer<T> V, MemoryBuffer<T> Output,
        MemoryBuffer<float> Lse, MemoryBuffer<T>? DOut);

    /// <summary>Allocates <paramref name="sets"/> sets (with dOut and the gradients when <paramref name="backward"/>) and fills the inputs.</summary>
    /// <exception cref="OutOfMemoryException">The device has not enough memory (nothing stays allocated).</exception>
    public AttentionBuffers(Accelerator accelerator, AttentionShape shape, int sets, bool backward, int seed)
    {
        _accelerator = accelerator;
        _shape = shape;
        long q = (long)shape.Batch * shape.SeqLenQ * shape.HeadsQ * shape.HeadDim;
        long kv = (long)shape.Batch * shape.SeqLenK * shape.HeadsKV * shape.HeadDim;
        long rows = (long)shape.Batch * shape.HeadsQ * shape.SeqLenQ;
        try
        {
            _sets = new InputSet[sets];
            for (int s = 0; s < sets; s++)
            {
                _sets[s] = new InputSet(Own<T>(q), Own<T>(kv), Own<T>(kv), Own<T>(q), Own<float>(rows), backward ? Own<T>(q) : null);
                RandomFill.Fill(_sets[s].Q, seed + 4 * s);
                RandomFill.Fill(_sets[s].K, seed + 4 * s + 1);
                RandomFill.Fill(_sets[s].V, seed + 4 * s + 2);
                if (_sets[s].DOut is { } dOut) RandomFill.Fill(dOut, seed + 4 * s + 3);
            }
            if (backward) (_dq, _dk, _dv) = (Own<T>(q), Own<T>(kv), Own<T>(kv));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Number of rotation slots.</summary>
    public int Sets => _sets.Length;

    /// <summary>Forward on slot <paramref name="set"/>: its output and lse.</summary>
    public void Forward(int set, AttentionSettings settings)
    {
        var s = _sets[set];
        AttentionLauncher.Forward(_accelerator, _shape, settings, s.Q.View, s.K.View, s.V.View, s.Output.View, s.Lse.View);
    }

    /// <summary>Backward on slot <paramref name="set"/> (its forward must have run) into the shared gradients.</summary>
    public void Backward(int set, AttentionSettings settings)
    {
        var s = _sets[set];
        AttentionLauncher.Backward(_accelerator, _shape, settings, s.Q.View, s.K.View, s.V.View, s.Output.View, s.DOut!.View, s.Lse.View,
            _dq!.View, _dk!.View, _dv!.View);
    }

    /// <summary>Bytes of the buffers one call of <paramref name="pass"/> touches (one slot, plus the gradients for the backward passes).</summary>
    public long BytesOfOneCall(AttentionPass pass)
    {
        var s = _sets[0];
        long bytes = s.Q.LengthInBytes + s.K.LengthInBytes + s.V.LengthInBytes + s.Output.LengthInBytes + s.Lse.LengthInBytes;
        if (pass != AttentionPass.Forward)
            bytes += s.DOut!.LengthInBytes + _dq!.LengthInBytes + _dk!.LengthInBytes + _dv!.LengthInBytes;
        return bytes;
    }

    /// <summary>
    /// Null when slot 0's output (and, after a backward pass, the gradients) are finite and not all zero at both ends;
    /// else what is wrong.
    /// </summary>
    public string? CheckResults(AttentionPass pass)
    {
        var checkedBuffers = new List<(string Name, MemoryBuffer<T> Buffer)> { ("output", _sets[0].Output) };
        if (pass != AttentionPass.Forward) checkedBuffers.AddRange([("dq", _dq!), ("dk", _dk!), ("dv", _dv!)]);
        _accelerator.Synchronize();
        foreach (var (name, buffer) in checkedBuffers)
        {
            int count = (int)Math.Min(CheckedElements, buffer.Length);
            var values = new T[2 * count];
            buffer.CopyToHost(values.AsSpan(0, count));
            buffer.CopyToHost(values.AsSpan(count), buffer.Length - count);
            var doubles = values.Select(DTypes.ToDouble).ToArray();
            if (doubles.Any(v => !double.IsFinite(v))) return $"{name} holds non-finite values";
            if (doubles.All(v => v == 0)) return $"{name} is all zeros";
        }
        return null;
    }

    private MemoryBuffer<TElement> Own<TElement>(long length) where TElement : unmanaged
    {
        var buffer = _accelerator.Allocate<TElement>(length);
        _owned.Add(buffer);
        return buffer;
    }

    /// <summary>Frees every buffer.</summary>
    public void Dispose()
    {
        foreach (var buffer in _owned) buffer.Dispose();
        _owned.Clear();
    }
}
