namespace FlashAttn.Kernels;

/// <summary>
/// The storage of element type <typeparamref name="T"/>, chosen once per type: <see cref="Run"/> hands it to a
/// <see cref="IStorageBody{T}"/> as a type argument, so no kernel is instantiated through reflection.
/// </summary>
internal abstract class StorageChoice<T> where T : unmanaged
{
    private static readonly StorageChoice<T>? _forType = Create();

    /// <summary>The choice for <typeparamref name="T"/>.</summary>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> is not float, Half or BFloat16.</exception>
    public static StorageChoice<T> Instance
        => _forType ?? throw new ArgumentException($"Attention supports float, Half and BFloat16 elements, not {typeof(T).Name}.", nameof(T));

    /// <summary>Runs <paramref name="body"/> with this element type's storage; fp32 with <paramref name="fp32Math"/>'s.</summary>
    public abstract void Run<TBody>(ref TBody body, Fp32Math fp32Math) where TBody : struct, IStorageBody<T>;

    private static StorageChoice<T>? Create()
    {
        if (typeof(T) == typeof(float)) return (StorageChoice<T>)(object)new Float32();
        if (typeof(T) == typeof(Half)) return (StorageChoice<T>)(object)new Float16();
        if (typeof(T) == typeof(BFloat16)) return (StorageChoice<T>)(object)new BFloat16s();
        return null;
    }

    private sealed class Float32 : StorageChoice<float>
    {
        public override void Run<TBody>(ref TBody body, Fp32Math fp32Math)
        {
            if (fp32Math == Fp32Math.TensorCores) body.RunWithTensorCores<Tf32SplitStorage>();
            else body.Run<Float32Storage>();
        }
    }

    private sealed class Float16 : StorageChoice<Half>
    {
        public override void Run<TBody>(ref TBody body, Fp32Math fp32Math) => body.RunWithHalves<Float16Storage>();
    }

    private sealed class BFloat16s : StorageChoice<BFloat16>
    {
        public override void Run<TBody>(ref TBody body, Fp32Math fp32Math) => body.RunWithHalves<BFloat16Storage>();
    }
}
