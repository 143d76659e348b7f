using global::ILGPU;
using global::ILGPU.Runtime;
using global::ILGPU.Runtime.CPU;
using global::ILGPU.Runtime.Cuda;

namespace FlashAttn.ILGPU;

/// <summary>
/// FlashAttention forward and backward on ILGPU memory. Bind one to an ILGPU accelerator and pass its
/// <see cref="ArrayView{T}"/>s (for a buffer from <c>Allocate1D</c>: <c>buffer.View.AsContiguous()</c>) with the
/// <see cref="AttentionSizes"/>.
/// </summary>
/// <remarks>
/// <para><b>ILGPU's CPU accelerator</b>: its buffers are native host memory, which FlashAttn's CPU device reads and
/// writes in place (<see cref="DeviceTensor.Wrap{T}(Device, nint, ReadOnlySpan{int})"/>): no copy.</para>
/// <para><b>ILGPU's CUDA accelerator</b>: FlashAttn's engine adopts ILGPU's own CUDA context and default stream
/// (<see cref="FlashAttn.Compute.Runtime.Cuda.CudaAccelerator.Adopt"/>): its kernels read and write the views in place and
/// are queued on ILGPU's stream, in order with ILGPU's own kernels there. No copy, no wait: synchronize the ILGPU
/// accelerator before reading results on the host, as after any ILGPU kernel.</para>
/// <para>Ordering on the CPU accelerator: each call first waits for it (so the views hold what earlier ILGPU kernels
/// wrote) and returns once FlashAttn's results are in the views.</para>
/// <para>Element types: <see cref="float"/>, <see cref="System.Half"/> (cast an ILGPU <c>Half</c> view with
/// <c>view.Cast&lt;System.Half&gt;()</c>: same bits) and <see cref="BFloat16"/>.</para>
/// </remarks>
public sealed class IlgpuAttention : IDisposable
{
    private readonly Accelerator _accelerator;
    private readonly bool _onCpu;

    /// <summary>Binds to <paramref name="accelerator"/> (ILGPU's CPU or CUDA accelerator); creates the FlashAttn device for it.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="accelerator"/> is null.</exception>
    /// <exception cref="NotSupportedException">The accelerator is neither CPU nor CUDA (e.g. OpenCL).</exception>
    /// <exception cref="DeviceUnavailableException">A CUDA accelerator, but FlashAttn finds no CUDA driver with a GPU.</exception>
    public IlgpuAttention(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        _accelerator = accelerator;
        Device = accelerator switch
        {
            CPUAccelerator => Device.Cpu(),
            CudaAccelerator cuda => Device.FromAccelerator(
                FlashAttn.Compute.Runtime.Cuda.CudaAccelerator.Adopt(cuda.NativePtr, ((CudaStream)cuda.DefaultStream).StreamPtr), ownsAccelerator: true),
            _ => throw new NotSupportedException(
                $"ILGPU accelerator type {accelerator.AcceleratorType} is not supported: use ILGPU's CPU or CUDA accelerator."),
        };
        _onCpu = accelerator is CPUAccelerator;
    }

    /// <summary>The FlashAttn device the calls run on (FlashAttn's CPU device, or the same GPU as the accelerator).</summary>
    public Device Device { get; }

    /// <summary>Attention forward: writes <paramref name="output"/> and, when given, <paramref name="lse"/>.</summary>
    /// <param name="sizes">The sizes the flat views hold.</param>
    /// <param name="q">Queries, <see cref="AttentionSizes.QShapeIn"/> of options' layout.</param>
    /// <param name="k">Keys, <see cref="AttentionSizes.KvShapeIn"/> of options' layout.</param>
    /// <param name="v">Values, <see cref="AttentionSizes.KvShapeIn"/> of options' layout.</param>
    /// <param name="output">Receives the output, <see cref="AttentionSizes.QShapeIn"/> of options' layout.</param>
    /// <param name="lse">Receives the log-sum-exp, <see cref="AttentionSizes.LseShape"/>; an empty view for none.</param>
    /// <param name="options">Scale and mask; null for the defaults.</param>
    /// <exception cref="ArgumentException">A view's length does not match <paramref name="sizes"/>, or as <see cref="FlashAttention"/>'s forward.</exception>
    public void Forward<T>(AttentionSizes sizes, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output,
        ArrayView<float> lse, AttentionOptions? options = null) where T : unmanaged
    {
        options ??= AttentionOptions.Default;
        int[] qShape = sizes.QShapeIn(options.Layout), kvShape = sizes.KvShapeIn(options.Layout);
        if (_onCpu) _accelerator.Synchronize();
        using var qt = Wrap(q, qShape, nameof(q));
        using var kt = Wrap(k, kvShape, nameof(k));
        using var vt = Wrap(v, kvShape, nameof(v));
        using var outputTensor = Wrap(output, qShape, nameof(output));
        using var lseTensor = lse.Length == 0 ? null : Wrap(lse, sizes.LseShape, nameof(lse));
        FlashAttention.Forward(qt, kt, vt, outputTensor, lseTensor, options);
        if (_onCpu) Device.Synchronize();
    }

    /// <summary>Attention backward: writes <paramref name="dq"/>, <paramref name="dk"/> and <paramref name="dv"/> (overwritten).</summary>
    /// <param name="sizes">The sizes the flat views hold.</param>
    /// <param name="dOut">∂loss/∂output, <see cref="AttentionSizes.QShapeIn"/> of options' layout.</param>
    /// <param name="q">Queries of the forward.</param>
    /// <param name="k">Keys of the forward.</param>
    /// <param name="v">Values of the forward.</param>
    /// <param name="output">The forward's output.</param>
    /// <param name="lse">The forward's log-sum-exp, <see cref="AttentionSizes.LseShape"/>.</param>
    /// <param name="dq">Receives ∂loss/∂q.</param>
    /// <param name="dk">Receives ∂loss/∂k.</param>
    /// <param name="dv">Receives ∂loss/∂v.</param>
    /// <param name="options">The forward's scale and mask; null for the defaults.</param>
    /// <exception cref="ArgumentException">A view's length does not match <paramref name="sizes"/>, or as <see cref="FlashAttention"/>'s backward.</exception>
    public void Backward<T>(AttentionSizes sizes, ArrayView<T> dOut, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v,
        ArrayView<T> output, ArrayView<float> lse, ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv,
        AttentionOptions? options = null) where T : unmanaged
    {
        options ??= AttentionOptions.Default;
        int[] qShape = sizes.QShapeIn(options.Layout), kvShape = sizes.KvShapeIn(options.Layout);
        if (_onCpu) _accelerator.Synchronize();
        using var dOutTensor = Wrap(dOut, qShape, nameof(dOut));
        using var qt = Wrap(q, qShape, nameof(q));
        using var kt = Wrap(k, kvShape, nameof(k));
        using var vt = Wrap(v, kvShape, nameof(v));
        using var outputTensor = Wrap(output, qShape, nameof(output));
        using var lseTensor = Wrap(lse, sizes.LseShape, nameof(lse));
        using var dqTensor = Wrap(dq, qShape, nameof(dq));
        using var dkTensor = Wrap(dk, kvShape, nameof(dk));
        using var dvTensor = Wrap(dv, kvShape, nameof(dv));
        FlashAttention.Backward(dOutTensor, qt, kt, vt, outputTensor, lseTensor, dqTensor, dkTensor, dvTensor, options);
        if (_onCpu) Device.Synchronize();
    }

    /// <summary>Disposes the FlashAttn device (not the ILGPU accelerator, which stays the caller's).</summary>
    public void Dispose() => Device.Dispose();

    /// <summary>A view as a tensor over the same memory (ILGPU's host memory on the CPU, its device memory on CUDA).</summary>
    private DeviceTensor<T> Wrap<T>(ArrayView<T> view, int[] shape, string name) where T : unmanaged
    {
        CheckLength(view, shape, name);
        return DeviceTensor.Wrap<T>(Device, view.LoadEffectiveAddressAsPtr(), shape);
    }

    private static void CheckLength<T>(ArrayView<T> view, int[] shape, string name) where T : unmanaged
    {
        long expected = 1;
        foreach (int d in shape) expected *= d;
        if (view.Length != expected)
            throw new ArgumentException(
                $"{name} has {view.Length} elements but its shape [{string.Join(", ", shape)}] needs {expected}.", name);
    }
}
