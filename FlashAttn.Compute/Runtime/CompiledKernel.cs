using FlashAttn.Compute.Frontend;

namespace FlashAttn.Compute.Runtime;

/// <summary>A kernel compiled to PTX, with what the host needs to launch it.</summary>
/// <param name="EntryName">Name of the <c>.entry</c> in <paramref name="Ptx"/>.</param>
/// <param name="Ptx">The module's PTX text.</param>
/// <param name="Slots">One slot per entry parameter, in order: where its value comes from among the launch arguments.</param>
/// <param name="StaticSharedBytes">Bytes of static shared memory the kernel declares.</param>
public sealed record CompiledKernel(string EntryName, string Ptx, IReadOnlyList<KernelParameterSlot> Slots, int StaticSharedBytes);
