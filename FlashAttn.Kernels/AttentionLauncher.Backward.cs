using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Kernels;

public static partial class AttentionLauncher
{
    /// <summary>One backward call: D and the dQ accumulator, dK/dV (and dQ) by the storage's kernel family, the
    /// deterministic dQ pass, and the conversion to the storage type.</summary>
    private readonly struct BackwardCall<T, TScore, TMask>(Accelerator accelerator, AttentionShape shape, AttentionSettings settings, AttentionParams p,
        SequenceGrid sequences, AttentionModifiers<TScore, TMask> modifiers, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<T> dOutput, ArrayView<float> lse,
        ArrayView<T> dq, ArrayView<T> dk, ArrayView<T> dv) : IStorageBody<T>
        where T : unmanaged where TScore : struct, IScoreModifier where TMask : struct, IMaskModifier
    {
        public void RunWithTensorCores<TStorage>() where TStorage : struct, ITensorCoreStorage<T>
        {
            // every head dim and length: the tile index is the grid's x
            if (sequences.IsDense) CheckBlockMask(modifiers.Blocks, shape);
            var tc = TensorCoreTile.ForBackward(shape.HeadDim, SizeOf<T>(), accelerator.Info.MaxSharedMemoryPerGroup);
            bool chunked = Chunked(shape.HeadDim, q, k, v, dOutput, dk, dv);
            bool dqStaged = tc.StagesDq(accelerator.Info.MaxSharedMemoryPerGroup, accelerator.Info.HasBulkCopies, chunked, !settings.Deterministic);
            using var workspace = Rent(kernelWritesKeyGradients: true);
            Preprocess<TStorage>(workspace);
            int ranks = CeilDiv(sequences.MaxKeys, tc.BackwardBlockCols) * tc.ColumnSplits;
            // one group per SM (LaunchBounds(256, 1), and the shared memory)
            int tailUnits = TileOrder.TailUnits(ranks, shape.HeadsQ * sequences.Count, settings.Causal, accelerator.Info.MultiprocessorCount, 1);
            accelerator.Launch(FlashBackwardTensorCoreKernel.Backward<T, TStorage, TScore, TMask>,
                new LaunchConfig(new Dim3(ranks, shape.HeadsQ, sequences.Count), new Dim3(tc.Threads, 1, 1), tc.BackwardLaunchSharedBytes(dqStaged)),
                q, k, v, dOutput, lse, workspace.Delta, workspace.DqAccum, workspace.DkAccum, workspace.DvAccum, dk, dv, p, sequences.Info, modifiers, tailUnits,
                Specialize(tc.HeadDimPadded), Specialize(tc.Warps), SpecializedValue.New(settings.Causal),
                SpecializedValue.New(chunked), SpecializedValue.New(!settings.Deterministic), Specialize(sequences.Kind),
                Specialize(sequences.IsDense ? modifiers.FlagsFor(settings) : AttentionModifiers<TScore, TMask>.FlagsWith(settings)),
                SpecializedValue.New(workspace.KeyGradientsDirect), SpecializedValue.New(dqStaged));
            Finish<TStorage>(workspace);
        }

        public void Run<TStorage>() where TStorage : struct, IStorage<T>
        {
            if (sequences.IsDense) CheckBlockMask(modifiers.Blocks, shape); // read only by the tensor cores; checked alike
            using var workspace = Rent(kernelWritesKeyGradients: false);
            Preprocess<TStorage>(workspace);
            var causal = SpecializedValue.New(settings.Causal);
            var accumulateDq = SpecializedValue.New(!settings.Deterministic);
            // the register-tiled kernel is plain attention: windows, modifiers and dropout take the general one
            if (sequences.IsDense && !settings.Windowed && Flags == 0 && TakesRegisterTiles(shape.HeadDim, CeilDiv(shape.SeqLenK, BackwardRegisterTile.BlockCols), q, k, v, dOutput))
            {
                accelerator.Launch(FlashBackwardTiledKernel.Backward<T, TStorage>,
                    new LaunchConfig(new Dim3(shape.HeadsQ, shape.Batch, CeilDiv(shape.SeqLenK, BackwardRegisterTile.BlockCols)),
                        new Dim3(BackwardRegisterTile.Threads, 1, 1), BackwardRegisterTile.SharedBytes(shape.HeadDim)),
                    q, k, v, dOutput, lse, workspace.Delta, workspace.DqAccum, workspace.DkAccum, workspace.DvAccum, p,
                    Specialize(BackwardRegisterTile.PaddedHeadDim(shape.HeadDim)), causal, accumulateDq);
            }
            else
            {
                var tile = Tile;
                accelerator.Launch(FlashBackwardKernel.Backward<T, TStorage, TScore, TMask>,
                    new LaunchConfig(new Dim3(CeilDiv(sequences.MaxKeys, tile.BlockCols), shape.HeadsQ, sequences.Count), new Dim3(tile.Threads, 1, 1), tile.BackwardSharedBytes),
                    q, k, v, dOutput, lse, workspace.Delta, workspace.DqAccum, workspace.DkAccum, workspace.DvAccum, p, sequences.Info, modifiers,
                    Specialize(sequences.Kind), Specialize(tile.BlockRows), Specialize(tile.BlockCols), Specialize(tile.Threads), Specialize(tile.ThreadsPerRow),
                    Specialize(tile.HeadDimPadded), causal, accumulateDq, Specialize(Flags));
            }
            Finish<TStorage>(workspace);
        }

        private AttentionTileConfig Tile => AttentionTileConfig.ForBackward(shape.HeadDim, SizeOf<T>());

        /// <summary>The modifier flags of the call: the forward's.</summary>
        private int Flags => sequences.IsDense ? modifiers.FlagsFor(settings) : AttentionModifiers<TScore, TMask>.FlagsWith(settings);

        private long Rows => (long)shape.Batch * shape.HeadsQ * shape.SeqLenQ;

        /// <summary>The call's workspace; <paramref name="kernelWritesKeyGradients"/>: the kernel stores dk and dv in their own type
        /// when it owns them whole (no GQA), the tensor cores' kernel does.</summary>
        private BackwardWorkspace<T> Rent(bool kernelWritesKeyGradients)
        {
            long dkvElements = (long)shape.Batch * shape.SeqLenK * shape.HeadsQ * shape.HeadDim;
            // fp32 without GQA: dq, dk and dv have the accumulators' type and layout, so they are the accumulators (no
            // workspace for them, no convert pass); dq must be 16-byte aligned for the four-float reductions
            bool direct = GradientsAreAccumulators(shape, SizeOf<T>()) && Aligned16(dq);
            return new BackwardWorkspace<T>(accelerator.Cache, Rows, Rows * shape.HeadDim, dkvElements, direct ? (dq, dk, dv) : null,
                perQueryHeadKeyGradients: shape.HeadsQ != shape.HeadsKV || !kernelWritesKeyGradients);
        }

        /// <summary>D = rowsum(dO ∘ O); dQ accumulator = 0.</summary>
        private void Preprocess<TStorage>(BackwardWorkspace<T> workspace) where TStorage : struct, IStorage<T>
            => accelerator.Launch(FlashBackwardPreprocessKernel.Preprocess<T, TStorage>,
                Elementwise(Math.Max(Rows * 32, Rows * shape.HeadDim)), // a warp per row
                output, dOutput, workspace.Delta, workspace.DqAccum, p);

        /// <summary>Deterministic dQ (one group per Q tile, K tiles in a fixed order), then fp32 → T with GQA sums in a fixed order.</summary>
        private void Finish<TStorage>(BackwardWorkspace<T> workspace) where TStorage : struct, IStorage<T>
        {
            if (settings.Deterministic)
            {
                var tile = Tile;
                accelerator.Launch(FlashBackwardDqKernel.BackwardDq<T, TStorage, TScore, TMask>,
                    new LaunchConfig(new Dim3(CeilDiv(sequences.MaxQueries, tile.BlockRows), shape.HeadsQ, sequences.Count), new Dim3(tile.Threads, 1, 1), tile.BackwardSharedBytes),
                    q, k, v, dOutput, lse, workspace.Delta, workspace.DqAccum, p, sequences.Info, modifiers, Specialize(sequences.Kind),
                    Specialize(tile.BlockRows), Specialize(tile.BlockCols), Specialize(tile.Threads), Specialize(tile.ThreadsPerRow),
                    Specialize(tile.HeadDimPadded), SpecializedValue.New(settings.Causal), Specialize(Flags));
            }
            if (workspace.Direct) return;
            accelerator.Launch(FlashBackwardConvertKernel.Convert<T, TStorage>,
                Elementwise(Math.Max(Rows * shape.HeadDim, (long)shape.Batch * shape.SeqLenK * shape.HeadsKV * shape.HeadDim) / FlashBackwardConvertKernel.ElementsPerThread),
                workspace.DqAccum, workspace.DkAccum, workspace.DvAccum, dq, dk, dv, p, SpecializedValue.New(!workspace.KeyGradientsDirect));
        }
    }
}
