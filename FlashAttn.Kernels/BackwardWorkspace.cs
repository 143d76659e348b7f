using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Kernels;

/// <summary>
/// The backward's fp32 buffers, rented from the accelerator's cache: D (b·h_q·s_q) always; the dQ accumulator unless the
/// gradients themselves take the accumulators' place (<see cref="Direct"/>); the per-query-head dK and dV only where the
/// kernel cannot write dk and dv itself (<see cref="KeyGradientsDirect"/>).
/// </summary>
internal readonly struct BackwardWorkspace<T> : IDisposable where T : unmanaged
{
    private readonly RentedBuffer<float> _delta;
    private readonly RentedBuffer<float>? _dq, _dk, _dv;

    /// <summary>
    /// Rents the buffers; <paramref name="gradients"/> given (fp32 dq, dk, dv) are used as the accumulators. Without them,
    /// per-query-head dK and dV only when <paramref name="perQueryHeadKeyGradients"/> (GQA sums them, or the kernel writes
    /// fp32 only).
    /// </summary>
    public BackwardWorkspace(BufferCache cache, long rows, long dqElements, long dkvElements,
        (ArrayView<T> Dq, ArrayView<T> Dk, ArrayView<T> Dv)? gradients, bool perQueryHeadKeyGradients)
    {
        _delta = cache.Rent<float>(rows);
        Direct = gradients is not null;
        if (gradients is { } g)
        {
            DqAccum = g.Dq.Cast<float>();
            DkAccum = g.Dk.Cast<float>();
            DvAccum = g.Dv.Cast<float>();
        }
        else
        {
            _dq = cache.Rent<float>(dqElements);
            DqAccum = _dq.View;
            if (perQueryHeadKeyGradients)
            {
                _dk = cache.Rent<float>(dkvElements);
                _dv = cache.Rent<float>(dkvElements);
                DkAccum = _dk.View;
                DvAccum = _dv.View;
            }
        }
        Delta = _delta.View;
    }

    /// <summary>True when the gradients are their own accumulators: no convert pass.</summary>
    public bool Direct { get; }

    /// <summary>True when dk and dv are written by the kernel itself (no per-query-head buffers): the convert pass leaves them.</summary>
    public bool KeyGradientsDirect => _dk is null;

    /// <summary>D = rowsum(dO ∘ O), (b, h_q, s_q).</summary>
    public ArrayView<float> Delta { get; }

    /// <summary>dQ accumulator (b, s_q, h_q, d), or (b, h_q, s_q, d) with q in that layout (<see cref="TokenLayout.Queries"/>).</summary>
    public ArrayView<float> DqAccum { get; }

    /// <summary>Per-query-head dK (b, s_k, h_q, d), or (b, h_q, s_k, d) with k in that layout (<see cref="TokenLayout.KeyGradientsPerQueryHead"/>);
    /// empty when <see cref="KeyGradientsDirect"/> and not <see cref="Direct"/>.</summary>
    public ArrayView<float> DkAccum { get; }

    /// <summary>Per-query-head dV, dK's layout.</summary>
    public ArrayView<float> DvAccum { get; }

    /// <summary>Returns the rented buffers to the cache.</summary>
    public void Dispose()
    {
        _dv?.Dispose();
        _dk?.Dispose();
        _dq?.Dispose();
        _delta.Dispose();
    }
}
