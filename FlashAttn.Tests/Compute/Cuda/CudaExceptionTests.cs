using FlashAttn.Compute.Runtime.Cuda;

namespace FlashAttn.Tests.Compute.Cuda;

public class CudaExceptionTests
{
    [Test]
    public void MessageNamesCallCodeAndDescription()
    {
        var error = new CudaException(CudaResult.OutOfMemory, "cuMemAlloc_v2", null, null, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory");
        Assert.That(error.Message, Is.EqualTo("cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory"));
        Assert.That(error.Result, Is.EqualTo(CudaResult.OutOfMemory));
        Assert.That(error.ErrorName, Is.EqualTo("CUDA_ERROR_OUT_OF_MEMORY"));
        Assert.That(error.ErrorString, Is.EqualTo("out of memory"));
        Assert.That(error.Call, Is.EqualTo("cuMemAlloc_v2"));
        Assert.That(error.KernelName, Is.Null);
        Assert.That(error.JitLog, Is.Null);
    }

    [Test]
    public void LaunchFailuresNameTheKernel()
    {
        var error = new CudaException(CudaResult.LaunchOutOfResources, "cuLaunchKernel", "Attention", null,
            "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch");
        Assert.That(error.Message, Does.StartWith("cuLaunchKernel failed for kernel 'Attention': CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES (701)"));
        Assert.That(error.KernelName, Is.EqualTo("Attention"));
    }

    [Test]
    public void ModuleLoadFailuresCarryTheJitLog()
    {
        const string log = "ptxas application ptx input, line 12; error   : Unknown symbol '%r99'\n";
        var error = new CudaException(CudaResult.InvalidPtx, "cuModuleLoadDataEx", "Broken", log, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed");
        Assert.That(error.JitLog, Is.EqualTo(log));
        Assert.That(error.Message, Does.Contain("JIT log:"));
        Assert.That(error.Message, Does.Contain("Unknown symbol '%r99'"));
    }

    [Test]
    public void WithoutTheDriverNamesComeFromTheEnum()
    {
        Assert.That(CudaException.FallbackName(CudaResult.InvalidPtx), Is.EqualTo("CUDA_ERROR_INVALID_PTX"));
        Assert.That(CudaException.FallbackName(CudaResult.NoBinaryForGpu), Is.EqualTo("CUDA_ERROR_NO_BINARY_FOR_GPU"));
        Assert.That(CudaException.FallbackName(CudaResult.IllegalAddress), Is.EqualTo("CUDA_ERROR_ILLEGAL_ADDRESS"));
        Assert.That(CudaException.FallbackName((CudaResult)12345), Is.EqualTo("CUDA_ERROR_12345"));

        Assume.That(CudaApi.TryLoad(out _), Is.False, "a CUDA driver is installed here and names the codes itself");
        var error = new CudaException(CudaResult.InvalidPtx, "cuModuleLoadDataEx");
        Assert.That(error.ErrorName, Is.EqualTo("CUDA_ERROR_INVALID_PTX"));
        Assert.That(error.Message, Does.Contain("(218)"));
    }

    [Test]
    public void ResultCodesHaveTheDriversValues()
    {
        Assert.Multiple(() =>
        {
            Assert.That((int)CudaResult.InvalidValue, Is.EqualTo(1));
            Assert.That((int)CudaResult.NotInitialized, Is.EqualTo(3));
            Assert.That((int)CudaResult.NoDevice, Is.EqualTo(100));
            Assert.That((int)CudaResult.InvalidPtx, Is.EqualTo(218));
            Assert.That((int)CudaResult.UnsupportedPtxVersion, Is.EqualTo(222));
            Assert.That((int)CudaResult.NotFound, Is.EqualTo(500));
            Assert.That((int)CudaResult.IllegalAddress, Is.EqualTo(700));
            Assert.That((int)CudaResult.LaunchFailed, Is.EqualTo(719));
            Assert.That((int)CudaResult.Unknown, Is.EqualTo(999));
        });
    }
}
