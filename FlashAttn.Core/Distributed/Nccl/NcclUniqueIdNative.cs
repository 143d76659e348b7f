using System.Runtime.InteropServices;

namespace FlashAttn.Distributed;

/// <summary>NCCL's <c>ncclUniqueId</c> as the C ABI lays it out (<c>struct { char internal[128]; }</c>), for passing by
/// value to <c>ncclCommInitRank</c> and by pointer to <c>ncclGetUniqueId</c>.</summary>
[StructLayout(LayoutKind.Sequential, Size = NcclUniqueId.Size)]
internal unsafe struct NcclUniqueIdNative
{
    public fixed byte Internal[NcclUniqueId.Size];
}
