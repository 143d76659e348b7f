using FlashAttn.Kernels;

namespace FlashAttn;

public static partial class FlashAttention
{
    /// <summary>
    /// Builds the block mask of <paramref name="mask"/> on <paramref name="device"/> for calls of <paramref name="batch"/>
    /// sequences of <paramref name="seqLenQ"/> queries and <paramref name="seqLenK"/> keys, <paramref name="headsQ"/> query
    /// heads: one mask per batch and per head, or shared (<paramref name="perBatch"/>, <paramref name="perHead"/> false: the
    /// mask modifier is then asked with batch or head 0). <paramref name="alignment"/> sets <see cref="ScorePosition.Diagonal"/>
    /// as the calls will. Built by a kernel on the device (milliseconds); reuse it for every call of that shape and mask.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public static BlockMaskTensor CreateBlockMask<TMask>(Device device, TMask mask, int batch, int headsQ, int seqLenQ, int seqLenK,
        bool perBatch = true, bool perHead = false, CausalAlignment alignment = CausalAlignment.BottomRight) where TMask : struct, IMaskModifier
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(headsQ, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(seqLenQ, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(seqLenK, 1);
        var shape = new AttentionShape(batch, seqLenQ, seqLenK, headsQ, headsQ, 1);
        var settings = new AttentionSettings(1f, Causal: false, CausalBottomRight: alignment == CausalAlignment.BottomRight);
        var buffer = device.Accelerator.Allocate<byte>(BlockMask.Elements(shape, perBatch, perHead));
        try
        {
            var built = AttentionLauncher.BuildBlockMask(device.Accelerator, shape, settings, mask, buffer.View, perBatch, perHead);
            return new BlockMaskTensor(device, buffer, built);
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }
}
