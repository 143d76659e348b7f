using FlashAttn.Compute.Runtime.Cpu;

namespace FlashAttn.Compute.Interpreter;

/// <summary>One activation of a compiled function on one kernel thread: its registers and the thread's context.</summary>
internal sealed class InterpreterFrame(long[] registers, CpuContext context)
{
    /// <summary>Registers indexed by value id (constants after the instructions).</summary>
    public readonly long[] R = registers;

    /// <summary>The kernel thread's CPU context (indices, barriers, shared and local memory).</summary>
    public readonly CpuContext Context = context;
}

/// <summary>One compiled instruction: reads and writes the frame's registers.</summary>
internal delegate void InterpreterOp(InterpreterFrame frame);
