using FlashAttn.Compute.IR;
using FlashAttn.Compute.IR.Analysis;
using FlashAttn.Compute.IR.Transformations;

namespace FlashAttn.Tests.Compute.Passes;

internal static class PassTestUtilities
{
    public static OptimizerOptions Verifying => new() { VerifyEachPass = true };

    /// <summary>Evaluates <paramref name="build"/>'s function on the inputs, optimizes it, and checks the results agree.</summary>
    public static Function CheckPipelinePreserves(Func<Function> build, IEnumerable<Val[]> inputs, OptimizerOptions? options = null)
    {
        var function = build();
        IRVerifier.Verify(function);
        var cases = inputs.ToList();
        var before = cases.Select(args => new TinyEvaluator().Run(function, args)).ToList();
        string original = IRPrinter.Format(function);
        Optimizer.Run(function, options ?? Verifying);
        IRVerifier.Verify(function);
        for (int k = 0; k < cases.Count; k++)
        {
            var after = new TinyEvaluator().Run(function, cases[k]);
            Assert.That(after.SameAs(before[k]), Is.True,
                $"inputs [{string.Join(", ", cases[k])}]: before {before[k]}, after {after}\n--- before:\n{original}\n--- after:\n{IRPrinter.Format(function)}");
        }
        return function;
    }

    /// <summary>Runs a single pass and checks it preserves results.</summary>
    public static Function CheckPassPreserves(FunctionPass pass, Func<Function> build, IEnumerable<Val[]> inputs)
    {
        var function = build();
        var cases = inputs.ToList();
        var before = cases.Select(args => new TinyEvaluator().Run(function, args)).ToList();
        pass.Run(function);
        IRVerifier.Verify(function);
        for (int k = 0; k < cases.Count; k++)
            Assert.That(new TinyEvaluator().Run(function, cases[k]).SameAs(before[k]), Is.True, IRPrinter.Format(function));
        return function;
    }

    public static IEnumerable<Val[]> RandomInts(int count, int arity, int seed = 1, int min = -100, int max = 100)
    {
        var random = new Random(seed);
        for (int k = 0; k < count; k++)
            yield return Enumerable.Range(0, arity).Select(_ => Val.Int(random.Next(min, max))).ToArray();
    }

    public static int Count(Function f, Opcode op) => f.AllInstructions.Count(i => i.Op == op);

    public static bool HasLoops(Function f) => new LoopInfo(new Dominators(f)).Loops.Count > 0;

    /// <summary>
    /// The shape Roslyn gives <c>for (i = start; i &lt; bound; i += step) body</c> in memory form:
    /// <c>init; br COND; BODY: …; COND: if (cmp) goto BODY; EXIT</c>. Returns the exit block.
    /// <paramref name="body"/> receives the builder positioned in the body and the loaded counter.
    /// </summary>
    public static BasicBlock ForLoop(Function f, IRBuilder b, Value counterSlot, Value start, Func<Value, Value> condition,
        Value step, Action<IRBuilder, Value> body, string name = "loop")
    {
        b.Store(counterSlot, start);
        var bodyBlock = f.AddBlock(name + ".body");
        var condBlock = f.AddBlock(name + ".cond");
        var exit = f.AddBlock(name + ".exit");
        b.Br(condBlock);
        b.Block = bodyBlock;
        var i = b.Load(start.Type, counterSlot);
        body(b, i);
        var i2 = b.Load(start.Type, counterSlot);
        b.Store(counterSlot, b.Add(i2, step));
        b.Br(condBlock);
        b.Block = condBlock;
        var i3 = b.Load(start.Type, counterSlot);
        b.CondBr(condition(i3), bodyBlock, exit);
        b.Block = exit;
        return exit;
    }
}
