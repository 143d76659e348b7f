using FlashAttn.Compute.IR;

namespace FlashAttn.Tests.Compute;

public class IRTypeTests
{
    [Test]
    public void PointerTypesAreInternedPerSpace()
    {
        var shared = IRType.Pointer(AddressSpace.Shared);
        Assert.That(IRType.Pointer(AddressSpace.Shared), Is.SameAs(shared));
        Assert.That(IRType.Pointer(AddressSpace.Shared), Is.Not.SameAs(IRType.Pointer(AddressSpace.Global)));
        Assert.That(IRType.Pointer(AddressSpace.Shared).ToString(), Is.EqualTo("ptr.shared"));
    }

    [Test]
    public void ConstantsAreNormalizedToTheirWidth()
    {
        Assert.That(Constant.Int(IRType.Int8, 200).Bits, Is.EqualTo(-56));
        Assert.That(Constant.Int(IRType.Int32, 0x1_0000_0001).Bits, Is.EqualTo(1));
        Assert.That(Constant.F32(0.1f).Float, Is.EqualTo((double)0.1f));
    }
}
