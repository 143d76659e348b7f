using FlashAttn.Compute.IR.Analysis;

namespace FlashAttn.Compute.IR.Transformations;

/// <summary>One transformation of a function.</summary>
public abstract class FunctionPass
{
    /// <summary>Name for dumps and error messages.</summary>
    public abstract string Name { get; }

    /// <summary>Transforms <paramref name="function"/>; returns true when anything changed.</summary>
    public abstract bool Run(Function function);
}

/// <summary>Settings of <see cref="Optimizer.Run"/>.</summary>
public sealed class OptimizerOptions
{
    /// <summary>Run <see cref="IRVerifier.Verify"/> before the pipeline and after every pass (throws on malformed IR, naming the pass).</summary>
    public bool VerifyEachPass { get; init; }

    /// <summary>When set, receives (pass name, IR text) before the pipeline ("input") and after every pass that changed something.</summary>
    public Action<string, string>? Dump { get; init; }

    /// <summary>When set, receives (pass name, time it took) after every pass run: where a compile spends its time.</summary>
    public Action<string, TimeSpan>? PassTime { get; init; }

    /// <summary>Bound on the rounds of the unroll / fold / mem2reg / simplify group.</summary>
    public int MaxIterations { get; init; } = 16;

    /// <summary>Turns full loop unrolling on or off.</summary>
    public bool UnrollLoops { get; init; } = true;

    /// <summary>Largest trip count unrolled.</summary>
    public int MaxUnrollTripCount { get; init; } = 1024;

    /// <summary>Largest number of instructions one unrolling may create.</summary>
    public int MaxUnrolledInstructions { get; init; } = 20_000;

    /// <summary>Runs <see cref="Transformations.IfConversion"/>; default from <see cref="IfConversionVariable"/>.</summary>
    public bool IfConversion { get; init; } = IfConversionDefault;

    /// <summary>
    /// Environment variable: <c>off</c> compiles kernels without <see cref="Transformations.IfConversion"/>. The pass shortens
    /// the tensor-core loops (SASS, CUDA 11.8 ptxas: fp16 d' = 128 forward loop 1,814 → 1,381 instructions together with the
    /// Bool folds of <see cref="ConstantFolding"/>) but moves some kernels' register pressure into spills; the switch is
    /// there to measure both on a GPU. Part of the kernel cache's key.
    /// </summary>
    public const string IfConversionVariable = "FLASHATTN_IF_CONVERSION";

    /// <summary>The process's setting of <see cref="IfConversionVariable"/> (on unless it says <c>off</c>).</summary>
    public static bool IfConversionDefault { get; } =
        !string.Equals(Environment.GetEnvironmentVariable(IfConversionVariable), "off", StringComparison.OrdinalIgnoreCase);
}

/// <summary>The optimization pipeline: the passes, in order (see docs/engine.md, "Passes").</summary>
public static class Optimizer
{
    /// <summary>Optimizes <paramref name="function"/> in place. Callees are inlined, never modified.</summary>
    public static void Run(Function function, OptimizerOptions? options = null)
    {
        options ??= new OptimizerOptions();

        var prologue = new List<FunctionPass>();
        prologue.Add(new Inliner());
        prologue.Add(new SimplifyCfg());
        prologue.Add(new Mem2Reg());
        prologue.Add(new ConstantFolding());
        prologue.Add(new DeadCodeElimination());
        prologue.Add(new SimplifyCfg());

        // Repeated until nothing changes: unrolling makes register-array indices constant.
        var loop = new List<FunctionPass>();
        if (options.UnrollLoops)
            loop.Add(new LoopUnrolling { MaxTripCount = options.MaxUnrollTripCount, MaxInstructions = options.MaxUnrolledInstructions });
        loop.Add(new ConstantFolding());
        loop.Add(new Mem2Reg());
        loop.Add(new SimplifyCfg());
        if (options.IfConversion) loop.Add(new IfConversion());
        loop.Add(new DeadCodeElimination());

        var epilogue = new List<FunctionPass>();
        epilogue.Add(new AddressReassociation());
        epilogue.Add(new AddressSpaceInference());
        epilogue.Add(new CommonSubexpressionElimination()); // global loads too: it needs the spaces
        epilogue.Add(new SimplifyCfg());
        epilogue.Add(new DeadCodeElimination());

        if (options.VerifyEachPass) Verify(function, "input");
        options.Dump?.Invoke("input", IRPrinter.Format(function));
        foreach (var pass in prologue) RunPass(function, pass, options);
        for (int round = 0; round < options.MaxIterations; round++)
        {
            bool changed = false;
            foreach (var pass in loop) changed |= RunPass(function, pass, options);
            if (!changed) break;
        }
        foreach (var pass in epilogue) RunPass(function, pass, options);
    }

    /// <summary>Runs one pass with the options' verification and dumping.</summary>
    public static bool RunPass(Function function, FunctionPass pass, OptimizerOptions? options = null)
    {
        long start = options?.PassTime is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
        bool changed = pass.Run(function);
        options?.PassTime?.Invoke(pass.Name, System.Diagnostics.Stopwatch.GetElapsedTime(start));
        if (changed) options?.Dump?.Invoke(pass.Name, IRPrinter.Format(function));
        if (options?.VerifyEachPass == true) Verify(function, pass.Name);
        return changed;
    }

    private static void Verify(Function function, string after)
    {
        try { IRVerifier.Verify(function); }
        catch (InvalidOperationException e) { throw new InvalidOperationException($"After {after}: {e.Message}", e); }
    }
}
