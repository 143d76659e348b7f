using System.Reflection;
using FlashAttn.Compute;
using FlashAttn.Compute.Interpreter;
using FlashAttn.Compute.Runtime;
using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Tests.Support;

/// <summary>Runs a test kernel on the CPU accelerator (managed code) or through the IR interpreter (the compiler's optimised
/// IR), so that a test checks both the kernel's C# and what the compiler made of it.</summary>
internal static class KernelOnCpu
{
    /// <summary>Launches <paramref name="kernel"/> with <paramref name="args"/> on <paramref name="cpu"/>, or interpreted.</summary>
    public static void Run(CpuAccelerator cpu, MethodInfo kernel, LaunchConfig config, object[] args, bool interpreted)
    {
        if (interpreted)
            IRInterpreter.Launch(KernelCompiler.Instance.BuildOptimizedIR(kernel, KernelCompiler.SpecializationsOf(kernel, args)), config, args);
        else
            cpu.LoadKernel(kernel).Launch(config, args);
    }
}
