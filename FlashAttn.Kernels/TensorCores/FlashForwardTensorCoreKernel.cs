using FlashAttn.Compute;

namespace FlashAttn.Kernels;

/// <summary>
/// FlashAttention-2 forward (Dao 2023, Algorithm 1) on tensor cores, fp16/bf16 in, fp32 accumulation. Notation as the
/// paper: S = Q K_jᵀ (scaled, log2 domain), m = running row max (<c>rowMax</c>), ℓ = running row sum (<c>rowSum</c>,
/// each lane's share until the epilogue), O = unnormalised output (<c>o</c>).
/// <list type="bullet">
/// <item>Each of the 4 warps owns 16 query rows (the m of mma.m16n8k16); a lane holds rows g and g+8 (lane = 4g + t).</item>
/// <item>Q is loaded once as A fragments (registers for d' ≤ 128, else re-read from shared per K block); K and V tiles go
/// global → shared by cp.async, V_j streaming during S = Q K_jᵀ and K_{j+1} during O += P V_j.</item>
/// <item>S accumulates in fp32 registers; the online softmax runs on the accumulator fragments (row max and sum across
/// the quad by two shuffles); P is rounded to 16 bits in registers and is directly the A operand of P·V.</item>
/// </list>
/// Grid (h_q, b, ⌈s_q/Br⌉), Q tiles last-first (the longest causal rows start first), <see cref="TensorCoreTile"/> sizes.
/// </summary>
internal static class FlashForwardTensorCoreKernel
{
    /// <summary>
    /// The kernel. q (b, s_q, h_q, d), k and v (b, s_k, h_kv, d), output like q, lse (b, h_q, s_q) fp32 natural log.
    /// <paramref name="headDimPadded"/>: <see cref="TensorCoreTile.PaddedHeadDim"/>(d); <paramref name="chunked"/>: d a multiple
    /// of 8 and every tensor 16-byte aligned (cp.async staging, packed stores).
    /// </summary>
    [LaunchBounds(128, 2)]
    public static void Forward<T, TStorage>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse,
        AttentionParams p, SpecializedValue<int> headDimPadded, SpecializedValue<bool> causal, SpecializedValue<bool> chunked)
        where T : unmanaged where TStorage : struct, ITensorCoreStorage<T>
    {
        var tile = new TensorCoreTile(headDimPadded.Value, 4);
        int dPad = tile.HeadDimPadded, br = tile.BlockRows, bc = tile.BlockCols, stride = tile.Stride;
        int kSteps = dPad / 16, keyTiles = bc / 8, dTiles = dPad / 8;
        var mask = AttentionMask.Of(p, causal.Value);
        int warp = Group.IdxX / 32, lane = Warp.LaneIdx, g = lane / 4, t = lane % 4;
        int head = Grid.IdxX, batch = Grid.IdxY, q0 = (Grid.DimZ - 1 - Grid.IdxZ) * br;
        int kvHead = head / p.QueriesPerKvHead;
        var qLayout = TokenLayout.Contiguous(p.SeqLenQ, p.HeadsQ, p.HeadDim);
        var kvLayout = TokenLayout.Contiguous(p.SeqLenK, p.HeadsKV, p.HeadDim);

        var shared = SharedMemory.GetDynamic<T>();
        var qTile = shared.SubView(0, br * stride);
        var kTile = shared.SubView(br * stride, bc * stride);
        var vTile = shared.SubView((br + bc) * stride, bc * stride);

        var qFragments = LocalMemory.Allocate<int>(4 * kSteps);
        var s = LocalMemory.Allocate<float>(4 * keyTiles);
        var o = LocalMemory.Allocate<float>(4 * dTiles);
        var rowMax = LocalMemory.Allocate<float>(2);
        var rowSum = LocalMemory.Allocate<float>(2);
        for (int e = 0; e < 4 * dTiles; e++) o[e] = 0f;
        for (int r = 0; r < 2; r++) { rowMax[r] = float.NegativeInfinity; rowSum[r] = 0f; }

        // ---- prologue: Q_i and K_0 in flight ----
        int kvBlocks = mask.KeyBlockCount(q0, br, bc);
        long qFirst = qLayout.RowStart(batch, q0, head), kvFirst = kvLayout.RowStart(batch, 0, kvHead);
        HalfTileLoader.Load<T, TStorage>(q, qFirst, qLayout.PositionStride, XMath.Min(br, p.SeqLenQ - q0), p.HeadDim, qTile, stride, br, dPad, tile.Threads, chunked.Value);
        if (kvBlocks > 0)
            HalfTileLoader.Load<T, TStorage>(k, kvFirst, kvLayout.PositionStride, XMath.Min(bc, p.SeqLenK), p.HeadDim, kTile, stride, bc, dPad, tile.Threads, chunked.Value);

        for (int block = 0; block < kvBlocks; block++)
        {
            int k0 = block * bc;
            long blockFirst = kvFirst + k0 * kvLayout.PositionStride;
            // K_j has landed and every warp is done with V_{j−1}: V_j streams in during S = Q K_jᵀ
            AsyncCopy.WaitAll();
            Group.Barrier();
            HalfTileLoader.Load<T, TStorage>(v, blockFirst, kvLayout.PositionStride, XMath.Min(bc, p.SeqLenK - k0), p.HeadDim, vTile, stride, bc, dPad, tile.Threads, chunked.Value);
            if (tile.QueryInRegisters && block == 0)
                for (int kk = 0; kk < kSteps; kk++)
                    Fragments.SetA(qFragments, kk, QueryFragment(qTile, stride, warp, lane, kk));

            // ---- S = Q K_jᵀ ----
            for (int e = 0; e < 4 * keyTiles; e++) s[e] = 0f;
            for (int kk = 0; kk < kSteps; kk++)
            {
                var a = tile.QueryInRegisters ? Fragments.GetA(qFragments, kk) : QueryFragment(qTile, stride, warp, lane, kk);
                for (int pair = 0; pair < keyTiles / 2; pair++)
                {
                    // keys 16·pair + (0–7 | 8–15) × head dims 16·kk + (0–7 | 8–15): B fragments of two key tiles
                    var b = TensorCore.LoadMatrixX4(ref kTile[(16 * pair + lane % 8 + 8 * (lane / 16)) * stride + 16 * kk + 8 * (lane / 8 % 2)]);
                    Fragments.SetC(s, 2 * pair, TStorage.MultiplyAdd(a, new Int2(b.X, b.Y), Fragments.GetC(s, 2 * pair)));
                    Fragments.SetC(s, 2 * pair + 1, TStorage.MultiplyAdd(a, new Int2(b.Z, b.W), Fragments.GetC(s, 2 * pair + 1)));
                }
            }

            // ---- scale to the log2 domain, mask, online softmax: P = exp2(S − m_new), ℓ and O rescaled ----
            for (int e = 0; e < 4 * keyTiles; e++) s[e] *= p.ScaleLog2;
            if (mask.BlockNeedsMask(q0, k0, bc))
                for (int e = 0; e < 4 * keyTiles; e++)
                    if (!mask.Visible(q0 + 16 * warp + g + 8 * (e % 4 / 2), k0 + 8 * (e / 4) + 2 * t + e % 2))
                        s[e] = float.NegativeInfinity;
            for (int r = 0; r < 2; r++)
            {
                float blockMax = float.NegativeInfinity;
                for (int j = 0; j < keyTiles; j++)
                    blockMax = XMath.Max(blockMax, XMath.Max(s[4 * j + 2 * r], s[4 * j + 2 * r + 1]));
                float newMax = XMath.Max(rowMax[r], RowReduce.Max(blockMax, 4));
                // a row that has seen no key keeps m = −∞; subtract 0 instead so −∞ − (−∞) never appears
                float reference = newMax == float.NegativeInfinity ? 0f : newMax;
                float correction = XMath.FastExp2(rowMax[r] - reference);
                float blockSum = 0f;
                for (int j = 0; j < keyTiles; j++)
                    for (int e = 0; e < 2; e++)
                    {
                        float pij = XMath.FastExp2(s[4 * j + 2 * r + e] - reference);
                        s[4 * j + 2 * r + e] = pij;
                        blockSum += pij;
                    }
                rowSum[r] = rowSum[r] * correction + blockSum;
                rowMax[r] = newMax;
                for (int j = 0; j < dTiles; j++)
                {
                    o[4 * j + 2 * r] *= correction;
                    o[4 * j + 2 * r + 1] *= correction;
                }
            }

            // V_j has landed and every warp is done with K_j: K_{j+1} streams in during O += P V_j
            AsyncCopy.WaitAll();
            Group.Barrier();
            if (block + 1 < kvBlocks)
                HalfTileLoader.Load<T, TStorage>(k, blockFirst + bc * kvLayout.PositionStride, kvLayout.PositionStride,
                    XMath.Min(bc, p.SeqLenK - k0 - bc), p.HeadDim, kTile, stride, bc, dPad, tile.Threads, chunked.Value);

            // ---- O += P V_j: P's accumulators, rounded to 16 bits, are the A fragments (keys 16·kk …) ----
            for (int kk = 0; kk < bc / 16; kk++)
            {
                var a = Fragments.AccumulatorsAsA<T, TStorage>(s, kk);
                for (int pair = 0; pair < dTiles / 2; pair++)
                {
                    // keys 16·kk + (0–7 | 8–15) × head dims 16·pair + (0–7 | 8–15), transposed: B fragments of two d tiles
                    var b = TensorCore.LoadMatrixX4Transposed(ref vTile[(16 * kk + lane % 8 + 8 * (lane / 8 % 2)) * stride + 16 * pair + 8 * (lane / 16)]);
                    Fragments.SetC(o, 2 * pair, TStorage.MultiplyAdd(a, new Int2(b.X, b.Y), Fragments.GetC(o, 2 * pair)));
                    Fragments.SetC(o, 2 * pair + 1, TStorage.MultiplyAdd(a, new Int2(b.Z, b.W), Fragments.GetC(o, 2 * pair + 1)));
                }
            }
        }

        // ---- epilogue: O_i = O / ℓ_i, L_i = (m_i + log2 ℓ_i) · ln 2; a row that saw no key gets O = 0, L = +∞ ----
        for (int r = 0; r < 2; r++)
        {
            float sum = RowReduce.Sum(rowSum[r], 4); // before the branch: the whole warp shuffles
            int row = q0 + 16 * warp + g + 8 * r;
            if (row >= p.SeqLenQ) continue;
            bool empty = sum == 0f;
            float inverse = empty ? 0f : 1f / sum;
            long oFirst = qLayout.RowStart(batch, row, head);
            for (int j = 0; j < dTiles; j++)
            {
                int column = 8 * j + 2 * t;
                float x = o[4 * j + 2 * r] * inverse, y = o[4 * j + 2 * r + 1] * inverse;
                if (chunked.Value)
                {
                    if (column < p.HeadDim) output.Cast<int>()[(oFirst + column) / 2] = TStorage.Pack(x, y);
                }
                else
                {
                    if (column < p.HeadDim) output[oFirst + column] = TStorage.Store(x);
                    if (column + 1 < p.HeadDim) output[oFirst + column + 1] = TStorage.Store(y);
                }
            }
            if (t == 0)
                lse[((long)batch * p.HeadsQ + head) * p.SeqLenQ + row] = empty ? float.PositiveInfinity : (rowMax[r] + XMath.Log2(sum)) * SoftmaxConstants.Ln2;
        }
    }

    /// <summary>A fragment of this warp's 16 Q rows × head dims 16·kk…: (rows 0–7 | 8–15) × (dims 0–7 | 8–15) → a0…a3.</summary>
    private static Int4 QueryFragment<T>(ArrayView<T> qTile, int stride, int warp, int lane, int kk) where T : unmanaged
        => TensorCore.LoadMatrixX4(ref qTile[(16 * warp + lane % 16) * stride + 16 * kk + 8 * (lane / 16)]);
}
