namespace FlashAttn.Cpu.Simd;

/// <summary>
/// The fp32 vector operations the CPU path's micro-kernels are written against, as static members of a struct so
/// that a kernel generic over <c>TOps</c> is compiled once per width with every call inlined (the
/// System.Numerics.Tensors operator-struct pattern): <see cref="Simd512"/>, <see cref="Simd256"/>, <see cref="Simd128"/>.
/// </summary>
/// <typeparam name="TVector">The vector type (Vector512/256/128 of float).</typeparam>
internal unsafe interface ISimd<TVector> where TVector : struct
{
    /// <summary>Floats per vector.</summary>
    static abstract int Count { get; }

    /// <summary>
    /// Rows of the <see cref="MicroKernel"/>'s register tile: 8 (16 accumulators) where the ISA has 32 vector registers,
    /// 4 (8 accumulators) where it has 16.
    /// </summary>
    static abstract int TileRows { get; }

    /// <summary>Every lane <paramref name="value"/>.</summary>
    static abstract TVector Broadcast(float value);

    /// <summary>Loads <see cref="Count"/> floats (no alignment needed).</summary>
    static abstract TVector Load(float* source);

    /// <summary>Stores <see cref="Count"/> floats (no alignment needed).</summary>
    static abstract void Store(float* destination, TVector value);

    /// <summary>a + b.</summary>
    static abstract TVector Add(TVector a, TVector b);

    /// <summary>a − b.</summary>
    static abstract TVector Subtract(TVector a, TVector b);

    /// <summary>a · b.</summary>
    static abstract TVector Multiply(TVector a, TVector b);

    /// <summary>a · b + c, rounded once (FMA).</summary>
    static abstract TVector MultiplyAdd(TVector a, TVector b, TVector c);

    /// <summary>Lane-wise maximum as the hardware computes it (x86 maxps: one instruction, where .NET's IEEE maximum takes
    /// three): with a NaN lane either operand may come out. A NaN score still poisons its row, as on the GPU and in
    /// PyTorch: its exponential (<see cref="VectorExp2"/>) is NaN, and so the row's sum.</summary>
    static abstract TVector Max(TVector a, TVector b);

    /// <summary>All-ones lanes where a &lt; b, zero lanes elsewhere (false for NaN).</summary>
    static abstract TVector LessThan(TVector a, TVector b);

    /// <summary><paramref name="value"/> with the lanes where <paramref name="mask"/> (from <see cref="LessThan"/>) is set made 0.</summary>
    static abstract TVector ZeroWhere(TVector mask, TVector value);

    /// <summary>Each lane rounded to the nearest integer (ties to even).</summary>
    static abstract TVector Round(TVector x);

    /// <summary>2ⁿ for integer-valued lanes n in [−127, 127] (n = −127 gives 0: denormals are flushed), by the hardware's
    /// conversion (one instruction; .NET's saturating one takes four): other lanes give undefined values.</summary>
    static abstract TVector Pow2(TVector integral);

    /// <summary>The sum of the lanes.</summary>
    static abstract float SumAcross(TVector value);
}
