namespace FlashAttn.Compute.Runtime;

/// <summary>
/// Typed launches: the kernel is named by a <see cref="KernelAction{T1}"/> (a method group converts to it once the
/// arguments have fixed its type parameters), so the arguments are checked against the kernel's parameters by the
/// C# compiler. Each overload loads the kernel and passes its arguments to <see cref="Kernel.Launch(LaunchConfig, object[])"/>,
/// the one place they are checked at run time and marshalled.
/// </summary>
public static class TypedLaunch
{
    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1>(this Accelerator accelerator, KernelAction<T1> kernel, LaunchConfig config, T1 a1)
        => accelerator.LoadKernel(kernel).Launch(config, a1!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2>(this Accelerator accelerator, KernelAction<T1, T2> kernel, LaunchConfig config, T1 a1, T2 a2)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3>(this Accelerator accelerator, KernelAction<T1, T2, T3> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7, T8>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7, T8> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!, a8!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7, T8, T9> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!, a8!, a9!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!, a8!, a9!, a10!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!, a8!, a9!, a10!, a11!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!, a8!, a9!, a10!, a11!, a12!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!, a8!, a9!, a10!, a11!, a12!, a13!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!, a8!, a9!, a10!, a11!, a12!, a13!, a14!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!, a8!, a9!, a10!, a11!, a12!, a13!, a14!, a15!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15, T16 a16)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!, a8!, a9!, a10!, a11!, a12!, a13!, a14!, a15!, a16!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15, T16 a16, T17 a17)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!, a8!, a9!, a10!, a11!, a12!, a13!, a14!, a15!, a16!, a17!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15, T16 a16, T17 a17, T18 a18)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!, a8!, a9!, a10!, a11!, a12!, a13!, a14!, a15!, a16!, a17!, a18!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15, T16 a16, T17 a17, T18 a18, T19 a19)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!, a8!, a9!, a10!, a11!, a12!, a13!, a14!, a15!, a16!, a17!, a18!, a19!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15, T16 a16, T17 a17, T18 a18, T19 a19, T20 a20)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!, a8!, a9!, a10!, a11!, a12!, a13!, a14!, a15!, a16!, a17!, a18!, a19!, a20!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15, T16 a16, T17 a17, T18 a18, T19 a19, T20 a20, T21 a21)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!, a8!, a9!, a10!, a11!, a12!, a13!, a14!, a15!, a16!, a17!, a18!, a19!, a20!, a21!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21, T22>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21, T22> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15, T16 a16, T17 a17, T18 a18, T19 a19, T20 a20, T21 a21, T22 a22)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!, a8!, a9!, a10!, a11!, a12!, a13!, a14!, a15!, a16!, a17!, a18!, a19!, a20!, a21!, a22!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21, T22, T23>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21, T22, T23> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15, T16 a16, T17 a17, T18 a18, T19 a19, T20 a20, T21 a21, T22 a22, T23 a23)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!, a8!, a9!, a10!, a11!, a12!, a13!, a14!, a15!, a16!, a17!, a18!, a19!, a20!, a21!, a22!, a23!);

    /// <summary>Launches <paramref name="kernel"/> on <paramref name="accelerator"/> with <paramref name="config"/>.</summary>
    public static void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21, T22, T23, T24>(this Accelerator accelerator, KernelAction<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15, T16, T17, T18, T19, T20, T21, T22, T23, T24> kernel, LaunchConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12, T13 a13, T14 a14, T15 a15, T16 a16, T17 a17, T18 a18, T19 a19, T20 a20, T21 a21, T22 a22, T23 a23, T24 a24)
        => accelerator.LoadKernel(kernel).Launch(config, a1!, a2!, a3!, a4!, a5!, a6!, a7!, a8!, a9!, a10!, a11!, a12!, a13!, a14!, a15!, a16!, a17!, a18!, a19!, a20!, a21!, a22!, a23!, a24!);
}
