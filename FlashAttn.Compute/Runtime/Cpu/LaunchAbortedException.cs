namespace FlashAttn.Compute.Runtime.Cpu;

/// <summary>
/// Thrown inside kernel threads to unwind them once the launch has failed elsewhere (another thread's
/// exception, a barrier misuse); never escapes <see cref="CpuGroupExecutor.Launch"/>, which rethrows the
/// original failure instead.
/// </summary>
internal sealed class LaunchAbortedException() : Exception("The launch was aborted because another kernel thread failed.");
