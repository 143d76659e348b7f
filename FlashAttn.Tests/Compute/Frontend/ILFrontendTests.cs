using System.Reflection;
using FlashAttn.Compute;
using FlashAttn.Compute.Frontend;
using FlashAttn.Compute.IR;

namespace FlashAttn.Tests.Compute.Frontend;

public class ILFrontendTests
{
    private static MethodInfo Kernel(string name, params Type[] generic)
    {
        var method = typeof(FrontendKernels).GetMethod(name, BindingFlags.Public | BindingFlags.Static)!;
        return generic.Length > 0 ? method.MakeGenericMethod(generic) : method;
    }

    private static KernelEntry Build(string name, params object?[] specializations)
    {
        var method = Kernel(name);
        if (specializations.Length == 0) specializations = new object?[method.GetParameters().Length];
        return ILFrontend.BuildKernel(method, specializations);
    }

    /// <summary>The kernel and every function it calls, transitively.</summary>
    private static List<Function> AllFunctions(Function root)
    {
        var seen = new List<Function> { root };
        for (int k = 0; k < seen.Count; k++)
            foreach (var i in seen[k].AllInstructions)
                if (i.Op == Opcode.Call && !seen.Contains(i.Callee!)) seen.Add(i.Callee!);
        return seen;
    }

    private static IEnumerable<Instruction> AllInstructions(KernelEntry entry)
        => AllFunctions(entry.Function).SelectMany(f => f.AllInstructions);

    /// <summary>Structural invariants of memory-form IR.</summary>
    private static void CheckWellFormed(KernelEntry entry)
    {
        foreach (var function in AllFunctions(entry.Function))
        {
            string text = IRPrinter.Format(function);
            foreach (var block in function.Blocks)
            {
                Assert.That(block.Terminator, Is.Not.Null, $"block {block.Name} has no terminator\n{text}");
                Assert.That(block.Instructions.Take(block.Instructions.Count - 1).Any(i => i.IsTerminator), Is.False, $"terminator inside {block.Name}\n{text}");
                foreach (var instruction in block.Instructions)
                {
                    Assert.That(instruction.Block, Is.SameAs(block));
                    if (instruction.Op == Opcode.Alloca) Assert.That(block, Is.SameAs(function.Entry), $"alloca outside entry\n{text}");
                    if (instruction.Op is Opcode.Add or Opcode.Sub or Opcode.Mul or Opcode.Div or Opcode.And or Opcode.Or or Opcode.Xor or Opcode.Cmp)
                        Assert.That(instruction.Operands[1].Type, Is.EqualTo(instruction.Operands[0].Type), $"operand types of {instruction}\n{text}");
                    if (instruction.Op == Opcode.CondBr) Assert.That(instruction.Operands[0].Type, Is.EqualTo(IRType.Bool), text);
                    if (instruction.Op is Opcode.Load or Opcode.Store or Opcode.PtrAdd) Assert.That(instruction.Operands[0].Type.IsPointer, text);
                    if (instruction.Op == Opcode.PtrAdd) Assert.That(instruction.Operands[1].Type, Is.EqualTo(IRType.Int64), text);
                    if (instruction.Op == Opcode.Ret)
                        Assert.That(instruction.Operands.Count == 0 ? IRType.Void : instruction.Operands[0].Type, Is.EqualTo(function.ReturnType), text);
                    if (instruction.Op == Opcode.Call)
                    {
                        var callee = instruction.Callee!;
                        Assert.That(instruction.Operands.Select(o => o.Type.IsPointer ? IRType.GenericPointer : o.Type), Is.EqualTo(callee.Parameters.Select(p => p.Type)), $"call args of {callee.Name}\n{text}");
                    }
                    foreach (var operand in instruction.Operands)
                        if (operand is Instruction def) Assert.That(def.Block?.Parent, Is.SameAs(function), $"operand from another function in {instruction}");
                }
            }
        }
        Assert.That(entry.Function.IsKernel);
        Assert.That(entry.Function.Name, Does.Match("^[A-Za-z_][A-Za-z0-9_]*$"));
        Assert.That(entry.Slots, Has.Count.EqualTo(entry.Function.Parameters.Count));
        for (int k = 0; k < entry.Slots.Count; k++) Assert.That(entry.Slots[k].Type, Is.EqualTo(entry.Function.Parameters[k].Type));
    }

    private static KernelEntry BuildChecked(string name, params object?[] specializations)
    {
        var entry = Build(name, specializations);
        CheckWellFormed(entry);
        return entry;
    }

    [Test]
    public void ScalarArithmeticUsesSignedAndUnsignedOps()
    {
        var entry = BuildChecked(nameof(FrontendKernels.Scalar));
        var ops = AllInstructions(entry).Select(i => i.Op).ToHashSet();
        Assert.That(ops, Is.SupersetOf(new[] { Opcode.Add, Opcode.Sub, Opcode.Mul, Opcode.Div, Opcode.Rem, Opcode.Or, Opcode.Xor, Opcode.Shl, Opcode.Shr, Opcode.ShrUn, Opcode.DivUn, Opcode.PtrAdd, Opcode.Call }));
        var intrinsics = AllInstructions(entry).Where(i => i.Op == Opcode.Intrinsic).Select(i => i.Intrinsic).ToHashSet();
        Assert.That(intrinsics, Is.SupersetOf(new[] { IntrinsicOp.GroupIdxX, IntrinsicOp.GroupDimX, IntrinsicOp.ThreadIdxX, IntrinsicOp.CpuBoundsCheck }));
    }

    [Test]
    public void ArrayViewParameterIsFlattenedToPointerAndLength()
    {
        var entry = BuildChecked(nameof(FrontendKernels.Scalar));
        Assert.That(entry.Function.Parameters.Select(p => p.Type), Is.EqualTo(new[] { IRType.GenericPointer, IRType.Int64, IRType.Int32, IRType.Int32 }));
        Assert.That(entry.Slots[0].ArgumentIndex, Is.Zero);
        Assert.That(entry.Slots[0].FieldPath.Select(f => f.Name), Is.EqualTo(new[] { "_pointer" }));
        Assert.That(entry.Slots[1].FieldPath.Select(f => f.Name), Is.EqualTo(new[] { "_length" }));
        Assert.That(entry.Slots[2].ArgumentIndex, Is.EqualTo(1));
        Assert.That(entry.Slots[2].FieldPath, Is.Empty);
        Assert.That(entry.Slots[3].ArgumentIndex, Is.EqualTo(2));
        Assert.That(entry.Function.Name, Is.EqualTo("FrontendKernels_Scalar"));
    }

    [Test]
    public void StructParameterIsFlattenedRecursively()
    {
        var entry = BuildChecked(nameof(FrontendKernels.StructParam));
        var paths = entry.Slots.Select(s => $"{s.ArgumentIndex}:{string.Join(".", s.FieldPath.Select(f => f.Name))}:{s.Type}").ToArray();
        Assert.That(paths, Is.EqualTo(new[]
        {
            "0:N:i32", "0:Scale:f32", "0:Data._pointer:ptr", "0:Data._length:i64", "0:Flag:i8",
            "1:_pointer:ptr", "1:_length:i64",
        }));
    }

    [Test]
    public void LoopsWithBreakAndContinueBuild()
    {
        var entry = BuildChecked(nameof(FrontendKernels.Loops));
        var kernel = entry.Function;
        Assert.That(kernel.Blocks, Has.Count.GreaterThan(8));
        var predecessors = kernel.ComputePredecessors();
        // Natural loops produce blocks with a predecessor that comes later (a back edge).
        int backEdges = kernel.Blocks.Sum(b => predecessors[b].Count(p => kernel.Blocks.IndexOf(p) >= kernel.Blocks.IndexOf(b)));
        Assert.That(backEdges, Is.GreaterThanOrEqualTo(3), kernel.ToString());
    }

    [Test]
    public void StructLocalsAndInstanceMethods()
    {
        var entry = BuildChecked(nameof(FrontendKernels.Structs));
        var callees = AllFunctions(entry.Function).Select(f => f.Source?.Name).ToList();
        Assert.That(callees, Does.Contain("Add"));
        Assert.That(callees, Does.Contain("get_Mean"));
        var add = AllFunctions(entry.Function).First(f => f.Source?.Name == "Add");
        Assert.That(add.Parameters.Select(p => p.Type), Is.EqualTo(new[] { IRType.GenericPointer, IRType.Float32 }), "this is a pointer");
        var allocas = entry.Function.Entry.Instructions.Where(i => i.Op == Opcode.Alloca).ToList();
        Assert.That(allocas.Any(a => a.AllocaSize == 8 && a.Alignment == 4), "Accumulator local is 8 bytes\n" + entry.Function);
    }

    [Test]
    public void StaticAbstractInterfaceDispatchResolvesToTheStruct()
    {
        foreach (var (op, expected) in new[] { (typeof(AddOp), "AddOp"), (typeof(MaxOp), "MaxOp") })
        {
            var method = Kernel(nameof(FrontendKernels.Generic), op);
            var entry = ILFrontend.BuildKernel(method, [null]);
            CheckWellFormed(entry);
            var owners = AllFunctions(entry.Function).Select(f => f.Source?.DeclaringType?.Name).ToList();
            Assert.That(owners.Count(o => o == expected), Is.EqualTo(2), "Apply and Bias of " + expected);
            Assert.That(entry.Function.Name, Is.EqualTo("FrontendKernels_Generic_" + expected));
        }
        var maxEntry = ILFrontend.BuildKernel(Kernel(nameof(FrontendKernels.Generic), typeof(MaxOp)), [null]);
        Assert.That(AllInstructions(maxEntry).Any(i => i.Op == Opcode.Intrinsic && i.Intrinsic == IntrinsicOp.Max));
    }

    [Test]
    public void SwitchAndTernariesBuild()
    {
        var entry = BuildChecked(nameof(FrontendKernels.Switch));
        var compares = entry.Function.AllInstructions.Where(i => i.Op == Opcode.Cmp && i.Operands[1] is Constant).ToList();
        for (int k = 0; k < 4; k++)
            Assert.That(compares.Any(c => c.Compare == CompareKind.Eq && ((Constant)c.Operands[1]).Bits == k), $"case {k}\n{entry.Function}");
    }

    [Test]
    public void HalfArithmeticIsF16()
    {
        var entry = BuildChecked(nameof(FrontendKernels.HalfMath));
        var all = AllInstructions(entry).ToList();
        Assert.That(all.Any(i => i.Op == Opcode.Mul && i.Type == IRType.Float16));
        Assert.That(all.Any(i => i.Op == Opcode.Add && i.Type == IRType.Float16));
        Assert.That(all.Any(i => i.Op == Opcode.Neg && i.Type == IRType.Float16));
        Assert.That(all.Any(i => i.Op == Opcode.Cmp && i.Operands[0].Type == IRType.Float16 && i.Compare == CompareKind.Lt));
        var intrinsics = all.Where(i => i.Op == Opcode.Intrinsic).Select(i => i.Intrinsic).ToHashSet();
        Assert.That(intrinsics, Is.SupersetOf(new[] { IntrinsicOp.FloatToHalf, IntrinsicOp.HalfToFloat, IntrinsicOp.FloatToBFloat16, IntrinsicOp.BFloat16ToFloat }));
        Assert.That(all.Any(i => i.Op == Opcode.Load && i.Type == IRType.BFloat16));
    }

    [Test]
    public void SharedAndLocalAllocations()
    {
        var entry = BuildChecked(nameof(FrontendKernels.Shared));
        var all = entry.Function.AllInstructions.Where(i => i.Op == Opcode.Intrinsic).ToList();
        var shared = all.Where(i => i.Intrinsic == IntrinsicOp.SharedAllocate).ToList();
        Assert.That(shared, Has.Count.EqualTo(2));
        Assert.That(shared[0].ElementType, Is.EqualTo(IRType.Float32));
        Assert.That(((Constant)shared[0].Operands[0]).Bits, Is.EqualTo(128));
        Assert.That(shared[0].Type, Is.EqualTo(IRType.GenericPointer));
        Assert.That(shared[1].ElementType, Is.EqualTo(IRType.Int8), "Float4 elements are counted in bytes");
        Assert.That(shared[1].Alignment, Is.EqualTo(16));
        var local = all.Single(i => i.Intrinsic == IntrinsicOp.LocalAllocate);
        Assert.That(local.ElementType, Is.EqualTo(IRType.Int32));
        var dynamic = all.Where(i => i.Intrinsic == IntrinsicOp.SharedDynamic).ToList();
        Assert.That(dynamic.Select(d => d.Type), Is.EquivalentTo(new[] { IRType.GenericPointer, IRType.Int32 }));
        Assert.That(all.Any(i => i.Intrinsic == IntrinsicOp.Barrier));
        Assert.That(all.All(i => i.Method is not null));
    }

    [Test]
    public void AtomicsTakeThePointerFirst()
    {
        var entry = BuildChecked(nameof(FrontendKernels.Atomics));
        var atomics = entry.Function.AllInstructions.Where(i => i.Op == Opcode.Intrinsic && i.Intrinsic is >= IntrinsicOp.AtomicAdd and <= IntrinsicOp.AtomicCompareExchange).ToList();
        Assert.That(atomics, Has.Count.EqualTo(4));
        Assert.That(atomics.All(a => a.Operands[0].Type.IsPointer));
        Assert.That(atomics.Select(a => a.ElementType), Is.EqualTo(new[] { IRType.Int32, IRType.Int32, IRType.Float32, IRType.Int32 }));
        Assert.That(atomics[1].Operands, Has.Count.EqualTo(3));
        var shuffle = entry.Function.AllInstructions.Single(i => i.Op == Opcode.Intrinsic && i.Intrinsic == IntrinsicOp.ShuffleXor);
        Assert.That(shuffle.ElementType, Is.EqualTo(IRType.Int32));
    }

    [Test]
    public void SpecializedParameterIsACompiledInConstant()
    {
        var plain = BuildChecked(nameof(FrontendKernels.Specialized));
        Assert.That(plain.Function.Parameters, Has.Count.EqualTo(4));
        var entry = BuildChecked(nameof(FrontendKernels.Specialized), null, SpecializedValue.New(16), null);
        Assert.That(entry.Function.Parameters.Select(p => p.Type), Is.EqualTo(new[] { IRType.GenericPointer, IRType.Int64, IRType.Float32 }));
        Assert.That(entry.Slots.Select(s => s.ArgumentIndex), Is.EqualTo(new[] { 0, 0, 2 }));
        Assert.That(entry.Function.Entry.Instructions.Any(i => i.Op == Opcode.Store && i.Operands[1] is Constant { Bits: 16 } c && c.Type == IRType.Int32), entry.Function.ToString());
        Assert.That(entry.Function.Name, Does.StartWith("FrontendKernels_Specialized_s"));
        var other = Build(nameof(FrontendKernels.Specialized), null, SpecializedValue.New(32), null);
        Assert.That(other.Function.Name, Is.Not.EqualTo(entry.Function.Name));
        var raw = Build(nameof(FrontendKernels.Specialized), null, 16, null);
        Assert.That(raw.Function.Parameters, Has.Count.EqualTo(3), "a bare T is accepted for SpecializedValue<T>");
    }

    [Test]
    public void BclMathMapsToIntrinsics()
    {
        var entry = BuildChecked(nameof(FrontendKernels.MathCalls));
        var all = entry.Function.AllInstructions.ToList();
        var intrinsics = all.Where(i => i.Op == Opcode.Intrinsic).Select(i => i.Intrinsic).ToHashSet();
        Assert.That(intrinsics, Is.SupersetOf(new[] { IntrinsicOp.Exp, IntrinsicOp.Sqrt, IntrinsicOp.Max, IntrinsicOp.Min, IntrinsicOp.Fma, IntrinsicOp.FastExp2, IntrinsicOp.BitCast, IntrinsicOp.IsNaN, IntrinsicOp.Pow }));
        Assert.That(all.Any(i => i.Operands.Any(o => o is Constant { Bits: 42 })), "static readonly constant");
        Assert.That(all.Any(i => i.Operands.Any(o => o is Constant { Bits: 16 })), "Unsafe.SizeOf<Float4>()");
        Assert.That(all.Any(i => i.Op == Opcode.Cmp && i.Compare == CompareKind.LtUn), "Math.Max(uint, uint)");
        Assert.That(AllFunctions(entry.Function).Where(f => f.Source?.DeclaringType?.Namespace == "System"), Is.Empty, "no BCL method compiled from IL");
    }

    [Test]
    public void PointerArithmetic()
    {
        var entry = BuildChecked(nameof(FrontendKernels.Pointers));
        var all = AllInstructions(entry).ToList();
        Assert.That(all.Any(i => i.Op == Opcode.PtrToInt));
        Assert.That(all.Count(i => i.Op == Opcode.PtrAdd), Is.GreaterThan(3));
        var sources = AllFunctions(entry.Function).Select(f => f.Source?.Name).ToList();
        Assert.That(sources, Does.Contain("SubView"));
        Assert.That(sources, Does.Contain("Cast"));
        Assert.That(sources, Does.Contain(".ctor"), "newobj ArrayView<T> calls the struct constructor");
    }

    [Test]
    public void EachClosedMethodIsBuiltOnce()
    {
        var entry = BuildChecked(nameof(FrontendKernels.Loops));
        var functions = AllFunctions(entry.Function);
        Assert.That(functions.Select(f => f.Source).Distinct().Count(), Is.EqualTo(functions.Count));
        Assert.That(functions.Select(f => f.Name).Distinct().Count(), Is.EqualTo(functions.Count));
    }

    [TestCase(nameof(FrontendKernels.UsesClass), "object allocation")]
    [TestCase(nameof(FrontendKernels.UsesArray), "newarr")]
    [TestCase(nameof(FrontendKernels.UsesString), "ldstr")]
    [TestCase(nameof(FrontendKernels.Throws), "string")]
    [TestCase(nameof(FrontendKernels.TryCatch), "exception handling")]
    [TestCase(nameof(FrontendKernels.Checked), "checked arithmetic")]
    [TestCase(nameof(FrontendKernels.MutableStatic), "static field")]
    [TestCase(nameof(FrontendKernels.Recursive), "recursion")]
    [TestCase(nameof(FrontendKernels.UsesDelegate), "FrontendKernels")]
    [TestCase(nameof(FrontendKernels.StackAlloc), "localloc")]
    public void UnsupportedConstructsThrow(string kernel, string construct)
    {
        var e = Assert.Throws<CompilationException>(() => Build(kernel))!;
        Assert.That(e.Message, Does.Contain(construct));
        Assert.That(e.Message, Does.Contain("FrontendKernels"));
        if (kernel != nameof(FrontendKernels.UsesDelegate))
        {
            Assert.That(e.ILOffset, Is.GreaterThanOrEqualTo(0));
            Assert.That(e.Message, Does.Contain("IL_"));
        }
    }

    [Test]
    public void LayoutsMatchDotNet()
    {
        Assert.That(TypeLayout.Of(typeof(ArrayView<float>)).Size, Is.EqualTo(16));
        Assert.That(TypeLayout.Of(typeof(Float4)).Alignment, Is.EqualTo(16));
        Assert.That(TypeLayout.Of(typeof(Params)).Size, Is.EqualTo(System.Runtime.CompilerServices.Unsafe.SizeOf<Params>()));
        Assert.That(TypeLayout.Of(typeof(Half)).IsScalar);
        Assert.That(TypeLayout.ScalarType(typeof(BFloat16)), Is.EqualTo(IRType.BFloat16));
        Assert.That(TypeLayout.ScalarType(typeof(bool)), Is.EqualTo(IRType.Int8));
        Assert.Throws<CompilationException>(() => TypeLayout.Of(typeof(string)));
    }
}

public class ILFrontendDumpTests
{
    [Test, Explicit("prints IR for inspection")]
    public void Dump()
    {
        var method = typeof(FrontendKernels).GetMethod(Environment.GetEnvironmentVariable("FRONTEND_DUMP") ?? "Specialized")!;
        var entry = ILFrontend.BuildKernel(method, new object?[method.GetParameters().Length]);
        var text = entry.Function + string.Concat(entry.Function.AllInstructions.Where(i => i.Op == Opcode.Call).Select(i => i.Callee!).Distinct().Select(f => f.ToString()));
        TestContext.Out.WriteLine(text);
        if (Environment.GetEnvironmentVariable("FRONTEND_DUMP_FILE") is { } file) File.WriteAllText(file, text);
    }
}
