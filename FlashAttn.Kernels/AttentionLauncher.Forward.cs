using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Kernels;

public static partial class AttentionLauncher
{
    /// <summary>
    /// One forward call: picks the kernel family for the storage and launches it over <paramref name="sequences"/>.
    /// On tensor cores, KV-cache calls pack the query heads of one kv head into a group's rows (GQA packing: the cache is
    /// read once per kv head) and split the key range <paramref name="requestedSplits"/> ways (0: <see cref="KvCacheSplits"/>
    /// chooses), a combine pass merging the partial results by their log-sum-exp.
    /// </summary>
    private readonly struct ForwardCall<T, TScore, TMask>(Accelerator accelerator, AttentionShape shape, AttentionSettings settings, AttentionParams p,
        SequenceGrid sequences, int requestedSplits, AttentionModifiers<TScore, TMask> modifiers,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse) : IStorageBody<T>
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        public void RunWithHalves<TStorage>() where TStorage : struct, IHalfStorage<T>
        {
            // plain dense attention at d = 64 or 128 on Hopper: the warp-specialised TMA/wgmma kernel
            if (sequences.IsDense && modifiers.FlagsFor(settings) == 0 && TakesWarpGroupForward(accelerator, shape.HeadDim, q, k, v, output))
                LaunchWarpGroupForward<TStorage>();
            else
                RunWithTensorCores<TStorage>();
        }

        public void RunWithTensorCores<TStorage>() where TStorage : struct, ITensorCoreStorage<T>
        {
            // every head dim and length: the tile index is the grid's x
            if (sequences.IsDense) CheckBlockMask(modifiers.Blocks, shape);

            bool cache = sequences.Kind is SequenceKind.KvCache or SequenceKind.PagedKvCache;
            var tc = TensorCoreTile.ForForward(shape.HeadDim, cache, SizeOf<T>(), accelerator.Info.MaxSharedMemoryPerGroup);
            int packedHeads = cache ? p.QueriesPerKvHead : 1;
            // decoding (s_q × G ≤ 16 packed rows): one row tile whose key blocks the warps split
            bool decode = cache && FlashDecodeTensorCoreKernel.Takes(sequences.MaxQueries, packedHeads);
            int rowBlock = decode ? FlashDecodeTensorCoreKernel.Rows : tc.BlockRows, colBlock = decode ? FlashDecodeTensorCoreKernel.BlockCols : tc.BlockCols;
            int tiles = CeilDiv(sequences.MaxQueries * packedHeads, rowBlock);
            int splits = !cache ? 1 : requestedSplits > 0 ? requestedSplits
                : KvCacheSplits(sequences.Count * (shape.HeadsQ / packedHeads) * tiles, CeilDiv(sequences.MaxKeys, colBlock), accelerator.Info.MultiprocessorCount);
            var config = new LaunchConfig(new Dim3(tiles * splits, shape.HeadsQ / packedHeads, sequences.Count), new Dim3(tc.Threads, 1, 1),
                decode ? FlashDecodeTensorCoreKernel.SharedBytes(tc) : tc.ForwardSharedBytes);
            if (splits == 1)
            {
                LaunchTensorCores<TStorage>(decode, config, tc, packedHeads, 1, default, default);
                return;
            }
            // partial O (splits, b, h_q, s_q, d) and L (splits, b, h_q, s_q) in fp32, merged by the combine pass
            long rows = RowStatisticsLayout.Of(p).Elements(p.Batch);
            using var partialOutput = accelerator.Cache.Rent<float>(splits * rows * shape.HeadDim);
            using var partialLse = accelerator.Cache.Rent<float>(splits * rows);
            LaunchTensorCores<TStorage>(decode, config, tc, packedHeads, splits, partialOutput.View, partialLse.View);
            accelerator.Launch(SplitCombineKernel.Combine<T, TStorage>, Elementwise(rows * SplitCombineKernel.WarpsPerRow(shape.HeadDim) * Warp.Size),
                partialOutput.View, partialLse.View, output, lse, p, splits);
        }

        /// <summary>The Hopper forward (<see cref="FlashForwardWarpGroupKernel"/>): q, k, v as tensor maps, O and L written directly;
        /// its tile (<see cref="WarpGroupTile.For"/>, FA3's with <see cref="WarpGroupFa3Tiles"/>) picks the entry with two or three
        /// consumer warpgroups.</summary>
        private void LaunchWarpGroupForward<TStorage>() where TStorage : struct, IHalfStorage<T>
        {
            var tile = WarpGroupTile.For(shape.HeadDim, WarpGroupFa3Tiles);
            int d = shape.HeadDim, tiles = CeilDiv(shape.SeqLenQ, tile.BlockRows);
            var qMap = FlashForwardWarpGroupKernel.Map(q, TokenLayout.Queries(p), shape.Batch, shape.SeqLenQ, shape.HeadsQ, d, tile.BlockRows);
            var kMap = FlashForwardWarpGroupKernel.Map(k, TokenLayout.KeysValues(p), shape.Batch, shape.SeqLenK, shape.HeadsKV, d, tile.BlockCols);
            var vMap = FlashForwardWarpGroupKernel.Map(v, TokenLayout.KeysValues(p), shape.Batch, shape.SeqLenK, shape.HeadsKV, d, tile.BlockCols);
            var config = new LaunchConfig(new Dim3(tiles, shape.HeadsQ, shape.Batch), new Dim3(tile.Threads, 1, 1), tile.SharedBytes);
            int tailUnits = TileOrder.TailUnits(tiles, shape.HeadsQ * shape.Batch, settings.Causal, accelerator.Info.MultiprocessorCount, 1);
            var headDim = Specialize(d);
            var causal = SpecializedValue.New(settings.Causal);
            var pingPong = SpecializedValue.New(tile.PingPong);
            // the accumulators' types: S's by Bc, O's by d (the kernels' register arrays)
            if (tile.ConsumerGroups == 3)
                accelerator.Launch(FlashForwardWarpGroupKernel.ForwardThreeConsumers<T, TStorage, Floats64, Floats32>, config, qMap, kMap, vMap, output,
                    lse, p, tailUnits, headDim, causal);
            else if (d == 64)
                accelerator.Launch(FlashForwardWarpGroupKernel.Forward<T, TStorage, Floats64, Floats32>, config, qMap, kMap, vMap, output, lse, p,
                    tailUnits, headDim, causal, pingPong);
            else if (d == 128)
                accelerator.Launch(FlashForwardWarpGroupKernel.Forward<T, TStorage, Floats64, Floats64>, config, qMap, kMap, vMap, output, lse, p,
                    tailUnits, headDim, causal, pingPong);
            else
                accelerator.Launch(FlashForwardWarpGroupKernel.Forward<T, TStorage, Floats40, Floats128>, config, qMap, kMap, vMap, output, lse, p,
                    tailUnits, headDim, causal, pingPong);
        }

        /// <summary>The decoding kernel or the general tensor-core forward; both take the same arguments.</summary>
        private void LaunchTensorCores<TStorage>(bool decode, LaunchConfig config, TensorCoreTile tc, int packedHeads, int splits,
            ArrayView<float> partialOutput, ArrayView<float> partialLse) where TStorage : struct, ITensorCoreStorage<T>
        {
            var headDimPadded = Specialize(tc.HeadDimPadded);
            var causal = SpecializedValue.New(settings.Causal);
            var chunked = SpecializedValue.New(Chunked(shape.HeadDim, q, k, v, output));
            var flags = Specialize(sequences.IsDense ? modifiers.FlagsFor(settings) : AttentionModifiers<TScore, TMask>.FlagsWith(settings));
            if (decode)
                accelerator.Launch(FlashDecodeTensorCoreKernel.Decode<T, TStorage, TScore, TMask>, config, q, k, v, output, lse, p, sequences.Info,
                    partialOutput, partialLse, modifiers, headDimPadded, causal, chunked, Specialize(sequences.Kind), Specialize(packedHeads), Specialize(splits), flags);
            else
            {
                // a split key range (KV cache) keeps the grid's order
                int tailUnits = TileOrder.TailUnits(config.Grid.X, config.Grid.Y * config.Grid.Z, settings.Causal && splits == 1,
                    accelerator.Info.MultiprocessorCount, tc.ForwardGroupsPerMultiprocessor);
                accelerator.Launch(FlashForwardTensorCoreKernel.Forward<T, TStorage, TScore, TMask>, config, q, k, v, output, lse, p, sequences.Info,
                    partialOutput, partialLse, modifiers, tailUnits, headDimPadded, Specialize(tc.Warps), causal, chunked, Specialize(sequences.Kind), Specialize(packedHeads), Specialize(splits), flags);
            }
        }

        public void Run<TStorage>() where TStorage : struct, IStorage<T>
        {
            if (sequences.IsDense) CheckBlockMask(modifiers.Blocks, shape); // read only by the tensor cores; checked alike
            // the register-tiled kernel is plain attention: windows, modifiers and dropout take the general one
            int flags = sequences.IsDense ? modifiers.FlagsFor(settings) : AttentionModifiers<TScore, TMask>.FlagsWith(settings);
            if (sequences.IsDense && !settings.Windowed && flags == 0 && TakesRegisterTiles(shape.HeadDim, CeilDiv(shape.SeqLenQ, ForwardRegisterTile.BlockRows), q, k, v))
            {
                accelerator.Launch(FlashForwardTiledKernel.Forward<T, TStorage>,
                    new LaunchConfig(new Dim3(shape.HeadsQ, shape.Batch, CeilDiv(shape.SeqLenQ, ForwardRegisterTile.BlockRows)),
                        new Dim3(ForwardRegisterTile.Threads, 1, 1), ForwardRegisterTile.SharedBytes(shape.HeadDim)),
                    q, k, v, output, lse, p,
                    Specialize(ForwardRegisterTile.PaddedHeadDim(shape.HeadDim)), SpecializedValue.New(settings.Causal));
                return;
            }
            var tile = AttentionTileConfig.ForForward(shape.HeadDim, SizeOf<T>());
            accelerator.Launch(FlashForwardKernel.Forward<T, TStorage, TScore, TMask>,
                new LaunchConfig(new Dim3(CeilDiv(sequences.MaxQueries, tile.BlockRows), shape.HeadsQ, sequences.Count), new Dim3(tile.Threads, 1, 1),
                    tile.ForwardSharedBytes),
                q, k, v, output, lse, p, sequences.Info, modifiers, Specialize(sequences.Kind),
                Specialize(tile.BlockRows), Specialize(tile.BlockCols), Specialize(tile.Threads), Specialize(tile.ThreadsPerRow),
                Specialize(tile.HeadDimPadded), SpecializedValue.New(settings.Causal), Specialize(flags));
        }
    }
}
