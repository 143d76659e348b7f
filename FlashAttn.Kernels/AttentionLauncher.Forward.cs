using FlashAttn.Compute;
using FlashAttn.Compute.Runtime;

namespace FlashAttn.Kernels;

public static partial class AttentionLauncher
{
    /// <summary>One forward call: picks the kernel family for the storage and launches it.</summary>
    private readonly struct ForwardCall<T>(Accelerator accelerator, AttentionShape shape, AttentionSettings settings, AttentionParams p,
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> output, ArrayView<float> lse) : IStorageBody<T> where T : unmanaged
    {
        public void RunWithTensorCores<TStorage>() where TStorage : struct, ITensorCoreStorage<T>
        {
            // every head dim and length: the tile index is the grid's x
            var tc = TensorCoreTile.ForForward(shape.HeadDim);
            accelerator.Launch(FlashForwardTensorCoreKernel.Forward<T, TStorage>,
                new LaunchConfig(new Dim3(CeilDiv(shape.SeqLenQ, tc.BlockRows), shape.HeadsQ, shape.Batch), new Dim3(tc.Threads, 1, 1), tc.ForwardSharedBytes),
                q, k, v, output, lse, p, Specialize(tc.HeadDimPadded), SpecializedValue.New(settings.Causal),
                SpecializedValue.New(Chunked(shape.HeadDim, q, k, v, output)));
        }

        public void Run<TStorage>() where TStorage : struct, IStorage<T>
        {
            if (TakesRegisterTiles(shape.HeadDim, CeilDiv(shape.SeqLenQ, ForwardRegisterTile.BlockRows), q, k, v))
            {
                accelerator.Launch(FlashForwardTiledKernel.Forward<T, TStorage>,
                    new LaunchConfig(new Dim3(shape.HeadsQ, shape.Batch, CeilDiv(shape.SeqLenQ, ForwardRegisterTile.BlockRows)),
                        new Dim3(ForwardRegisterTile.Threads, 1, 1), ForwardRegisterTile.SharedBytes(shape.HeadDim)),
                    q, k, v, output, lse, p,
                    Specialize(ForwardRegisterTile.PaddedHeadDim(shape.HeadDim)), SpecializedValue.New(settings.Causal));
                return;
            }
            var tile = AttentionTileConfig.ForForward(shape.HeadDim, SizeOf<T>());
            accelerator.Launch(FlashForwardKernel.Forward<T, TStorage>,
                new LaunchConfig(new Dim3(CeilDiv(shape.SeqLenQ, tile.BlockRows), shape.HeadsQ, shape.Batch), new Dim3(tile.Threads, 1, 1), tile.ForwardSharedBytes),
                q, k, v, output, lse, p,
                Specialize(tile.BlockRows), Specialize(tile.BlockCols), Specialize(tile.Threads), Specialize(tile.ThreadsPerRow),
                Specialize(tile.HeadDimPadded), SpecializedValue.New(settings.Causal));
        }
    }
}
