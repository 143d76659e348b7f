using FlashAttn.Compute.Runtime;

namespace FlashAttn.Tests.Support;

/// <summary>A fixture whose tests share one <see cref="TestAccelerator"/>: opened before the first test, closed after the last.</summary>
public abstract class TestAcceleratorFixture
{
    /// <summary>The fixture's accelerator (CPU, or CUDA with FLASHATTN_TEST_DEVICE=cuda).</summary>
    protected Accelerator _accelerator = null!;

    [OneTimeSetUp]
    public void CreateAccelerator() => _accelerator = TestAccelerator.Create();

    [OneTimeTearDown]
    public void DisposeAccelerator() => _accelerator.Dispose();
}
