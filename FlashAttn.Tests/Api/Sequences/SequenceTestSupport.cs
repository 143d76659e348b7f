using FlashAttn.Kernels;
using FlashAttn.Kernels.Reference;
using FlashAttn.Tests.Kernels;

namespace FlashAttn.Tests.Api.Sequences;

/// <summary>Where a sequence test runs: the CPU path, or the GPU kernels on the emulating CPU accelerator.</summary>
public enum SequenceDevice
{
    /// <summary><see cref="Device.Cpu()"/>.</summary>
    Cpu,
    /// <summary><see cref="Device.CpuEmulator"/> (slow: small shapes only).</summary>
    Emulator,
}

/// <summary>
/// Inputs, devices and the acceptance rule of the varlen and KV-cache API tests. The rule is flash-attn's, as in
/// <see cref="AttentionKernelTests.Check"/>: max|ours − fp64| ≤ factor · max|naive same-dtype − fp64| + 1e-5, with the
/// fp64 truth from <see cref="SequenceReference"/> and the naive budget from <see cref="NaiveAttention"/> run per
/// sequence (<see cref="NaiveVarlen"/>, <see cref="NaiveKvCache"/>).
/// </summary>
internal static class SequenceTestSupport
{
    public static Device Create(SequenceDevice device) => device == SequenceDevice.Cpu ? Device.Cpu() : Device.CpuEmulator();

    /// <summary>Rounds a float to <paramref name="dtype"/>.</summary>
    public static float Round(AttentionDtype dtype, float x) => dtype switch
    {
        AttentionDtype.Fp16 => (float)(Half)x,
        AttentionDtype.Bf16 => (BFloat16)x,
        _ => x,
    };

    /// <summary><paramref name="count"/> values uniform in ±1.5, never (near) zero, rounded to <paramref name="dtype"/>.</summary>
    public static float[] Random(Random random, long count, AttentionDtype dtype)
    {
        var values = new float[count];
        for (long i = 0; i < count; i++)
        {
            float x = (float)(random.NextDouble() * 3 - 1.5);
            values[i] = Round(dtype, MathF.Abs(x) < 1e-3f ? 0.25f : x);
        }
        return values;
    }

    public static DeviceTensor<T> Upload<T>(Device device, float[] values, params int[] shape) where T : unmanaged
        => DeviceTensor.Upload<T>(device, Array.ConvertAll(values, x => DTypes.FromDouble<T>(x)), shape);

    public static double[] Download<T>(DeviceTensor<T> tensor) where T : unmanaged
        => Array.ConvertAll(tensor.ToArray(), x => DTypes.ToDouble(x));

    public static double[] Widen(float[] values) => Array.ConvertAll(values, x => (double)x);

    /// <summary>cu_seqlens of <paramref name="lengths"/>: b + 1 entries from 0.</summary>
    public static int[] Cumulative(int[] lengths)
    {
        var cu = new int[lengths.Length + 1];
        for (int i = 0; i < lengths.Length; i++) cu[i + 1] = cu[i] + lengths[i];
        return cu;
    }

    /// <summary>The forward factor 2 and gradient factor 3 of <see cref="AttentionKernelTests"/>.</summary>
    public static void Check(string name, double[] ours, double[] naive, double[] reference, bool gradient)
        => AttentionKernelTests.Check(name, ours, naive, reference, gradient ? AttentionKernelTests.GradientFactor : AttentionKernelTests.ForwardFactor);

    /// <summary>The naive same-dtype computation of a varlen call, per sequence: output, lse (h_q, total_q) and, with dO, the gradients.</summary>
    public static (double[] O, double[] Lse, double[] Dq, double[] Dk, double[] Dv) NaiveVarlen(VarlenShape shape, AttentionSettings settings,
        Func<float, float> round, int[] cuQ, int[] cuK, float[] q, float[] k, float[] v, float[] dOutput, ReferenceModifiers? modifiers = null)
    {
        int qRow = shape.HeadsQ * shape.HeadDim, kRow = shape.HeadsKV * shape.HeadDim;
        var (o, lse, dq, dk, dv) = (new float[q.Length], new float[(long)shape.HeadsQ * shape.TotalQ], new float[q.Length],
            new float[k.Length], new float[v.Length]);
        for (int i = 0; i < shape.Sequences; i++)
        {
            int sq = cuQ[i + 1] - cuQ[i], sk = cuK[i + 1] - cuK[i];
            var dense = new AttentionShape(1, sq, sk, shape.HeadsQ, shape.HeadsKV, shape.HeadDim);
            float[] Slice(float[] a, int start, int rows, int row) => a.AsSpan(start * row, rows * row).ToArray();
            var (so, sl, sdq, sdk, sdv) = (new float[sq * qRow], new float[shape.HeadsQ * sq], new float[sq * qRow], new float[sk * kRow], new float[sk * kRow]);
            NaiveAttention.Run(dense, settings, round, Slice(q, cuQ[i], sq, qRow), Slice(k, cuK[i], sk, kRow), Slice(v, cuK[i], sk, kRow),
                Slice(dOutput, cuQ[i], sq, qRow), so, sl, sdq, sdk, sdv, modifiers?.ForSequence(i));
            so.CopyTo(o, cuQ[i] * qRow);
            sdq.CopyTo(dq, cuQ[i] * qRow);
            sdk.CopyTo(dk, cuK[i] * kRow);
            sdv.CopyTo(dv, cuK[i] * kRow);
            for (int h = 0; h < shape.HeadsQ; h++)
                Array.Copy(sl, h * sq, lse, h * shape.TotalQ + cuQ[i], sq);
        }
        return (Widen(o), Widen(lse), Widen(dq), Widen(dk), Widen(dv));
    }

    /// <summary>The naive same-dtype forward of a KV-cache call over a cache that already holds the new keys.</summary>
    public static (double[] O, double[] Lse) NaiveKvCache(KvCacheShape shape, AttentionSettings settings, Func<float, float> round,
        int[] cacheSeqlens, int[]? batchIndex, int[]? blockTable, float[] q, float[] kCache, float[] vCache, ReferenceModifiers? modifiers = null)
    {
        int qRow = shape.HeadsQ * shape.HeadDim, kRow = shape.HeadsKV * shape.HeadDim, sq = shape.SeqLenQ;
        var (o, lse) = (new float[q.Length], new float[(long)shape.Batch * shape.HeadsQ * sq]);
        for (int b = 0; b < shape.Batch; b++)
        {
            int keys = cacheSeqlens[b] + shape.NewKeys;
            var (kb, vb) = (new float[keys * kRow], new float[keys * kRow]);
            for (int j = 0; j < keys; j++)
            {
                long row = SequenceReference.CacheRow(shape, batchIndex, blockTable, b, j) * kRow;
                Array.Copy(kCache, row, kb, (long)j * kRow, kRow);
                Array.Copy(vCache, row, vb, (long)j * kRow, kRow);
            }
            var (so, sl) = (new float[sq * qRow], new float[shape.HeadsQ * sq]);
            NaiveAttention.Run(new AttentionShape(1, sq, keys, shape.HeadsQ, shape.HeadsKV, shape.HeadDim), settings, round,
                q.AsSpan(b * sq * qRow, sq * qRow).ToArray(), kb, vb, null, so, sl, null, null, null, modifiers?.ForSequence(b));
            so.CopyTo(o, b * sq * qRow);
            sl.CopyTo(lse, b * shape.HeadsQ * sq);
        }
        return (Widen(o), Widen(lse));
    }
}
