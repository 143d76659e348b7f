using System.Diagnostics;
using FlashAttn.Bench.Attention;
using FlashAttn.Compute;
using FlashAttn.Kernels;

namespace FlashAttn.Bench.Memory;

/// <summary>
/// One forward (and backward) through the public API (<see cref="FlashAttention"/>) on fresh random tensors, with the
/// peak of the accelerator's allocation tracker above what was held before: the memory a user's call takes.
/// </summary>
internal static class ApiMemoryProbe
{
    /// <summary>The tracked peak in bytes and the wall-clock milliseconds of the calls (synchronized).</summary>
    public readonly record struct Measurement(long TrackedPeakBytes, double Milliseconds);

    /// <summary>Runs forward, and backward when <paramref name="backward"/>, of self-attention of <paramref name="shape"/> in <paramref name="dtype"/>.</summary>
    public static Measurement Run(Device device, DType dtype, AttentionShape shape, bool backward) => dtype switch
    {
        DType.Float32 => Run<float>(device, shape, backward),
        DType.Float16 => Run<Half>(device, shape, backward),
        _ => Run<BFloat16>(device, shape, backward),
    };

    private static Measurement Run<T>(Device device, AttentionShape shape, bool backward) where T : unmanaged
    {
        device.ReleaseCachedMemory(); // workspaces cached by earlier calls would hide this call's
        long held = device.AllocatedBytes;
        device.ResetPeakAllocatedBytes();
        var options = new AttentionOptions { ReturnLse = true };
        using var q = RandomFill.Tensor<T>(device, 1, shape.Batch, shape.SeqLenQ, shape.HeadsQ, shape.HeadDim);
        using var k = RandomFill.Tensor<T>(device, 2, shape.Batch, shape.SeqLenK, shape.HeadsKV, shape.HeadDim);
        using var v = RandomFill.Tensor<T>(device, 3, shape.Batch, shape.SeqLenK, shape.HeadsKV, shape.HeadDim);
        using var dOut = backward ? RandomFill.Tensor<T>(device, 4, shape.Batch, shape.SeqLenQ, shape.HeadsQ, shape.HeadDim) : null;
        device.Synchronize();
        long start = Stopwatch.GetTimestamp(); // the calls only: making the inputs is not theirs
        using var forward = FlashAttention.Forward(q, k, v, options);
        using var gradients = dOut is null ? null : FlashAttention.Backward(dOut, q, k, v, forward.Output, forward.Lse!, options);
        device.Synchronize();
        return new Measurement(device.PeakAllocatedBytes - held, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
    }
}
