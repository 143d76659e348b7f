namespace FlashAttn.Compute.IR.Analysis;

/// <summary>A natural loop: a header and every block that reaches one of its back edges without passing the header.</summary>
public sealed class Loop
{
    internal Loop(BasicBlock header) => Header = header;

    /// <summary>The block every iteration starts at; it dominates the loop.</summary>
    public BasicBlock Header { get; }

    /// <summary>Blocks of the loop (header included).</summary>
    public HashSet<BasicBlock> Blocks { get; } = [];

    /// <summary>Blocks with a back edge to the header.</summary>
    public List<BasicBlock> Latches { get; } = [];

    /// <summary>Edges leaving the loop: (block inside, block outside).</summary>
    public List<(BasicBlock From, BasicBlock To)> ExitEdges { get; } = [];

    /// <summary>Distinct blocks outside the loop that exit edges go to.</summary>
    public IEnumerable<BasicBlock> Exits => ExitEdges.Select(e => e.To).Distinct();

    /// <summary>The single predecessor of the header outside the loop, if there is exactly one; else null.</summary>
    public BasicBlock? Preheader { get; internal set; }

    /// <summary>The innermost enclosing loop.</summary>
    public Loop? Parent { get; internal set; }

    /// <summary>Loops immediately nested in this one.</summary>
    public List<Loop> Children { get; } = [];

    /// <summary>1 for an outermost loop.</summary>
    public int Depth => Parent is null ? 1 : Parent.Depth + 1;

    /// <inheritdoc/>
    public override string ToString() => $"loop {Header.Name} ({Blocks.Count} blocks)";
}

/// <summary>The natural loops of a function, found from back edges (an edge to a block that dominates its source).</summary>
public sealed class LoopInfo
{
    /// <summary>Finds the loops of the function <paramref name="dominators"/> describes.</summary>
    public LoopInfo(Dominators dominators)
    {
        var byHeader = new Dictionary<BasicBlock, Loop>();
        foreach (var block in dominators.ReversePostOrder)
        {
            foreach (var successor in block.Successors.Distinct())
            {
                if (!dominators.IsBackEdge(block, successor)) continue;
                if (!byHeader.TryGetValue(successor, out var loop))
                {
                    loop = new Loop(successor);
                    loop.Blocks.Add(successor);
                    byHeader[successor] = loop;
                }
                loop.Latches.Add(block);
                var work = new Stack<BasicBlock>();
                if (loop.Blocks.Add(block)) work.Push(block);
                while (work.Count > 0)
                    foreach (var pred in dominators.Predecessors[work.Pop()])
                        if (dominators.IsReachable(pred) && loop.Blocks.Add(pred)) work.Push(pred);
            }
        }
        foreach (var loop in byHeader.Values)
        {
            foreach (var block in loop.Blocks)
                foreach (var successor in block.Successors.Distinct())
                    if (!loop.Blocks.Contains(successor)) loop.ExitEdges.Add((block, successor));
            var outside = dominators.Predecessors[loop.Header].Where(p => !loop.Blocks.Contains(p) && dominators.IsReachable(p)).ToList();
            loop.Preheader = outside.Count == 1 ? outside[0] : null;
        }
        // Nesting: the parent is the smallest other loop that contains the header.
        foreach (var loop in byHeader.Values)
        {
            loop.Parent = byHeader.Values
                .Where(o => o != loop && o.Blocks.Contains(loop.Header) && o.Blocks.Count >= loop.Blocks.Count)
                .OrderBy(o => o.Blocks.Count).FirstOrDefault();
            loop.Parent?.Children.Add(loop);
        }
        Loops = [.. byHeader.Values];
    }

    /// <summary>All loops, outer loops before the loops they contain in no particular guarantee; see <see cref="Innermost"/>.</summary>
    public IReadOnlyList<Loop> Loops { get; }

    /// <summary>Loops that contain no other loop.</summary>
    public IEnumerable<Loop> Innermost => Loops.Where(l => l.Children.Count == 0);

    /// <summary>The innermost loop containing <paramref name="block"/>, or null.</summary>
    public Loop? LoopOf(BasicBlock block)
        => Loops.Where(l => l.Blocks.Contains(block)).OrderBy(l => l.Blocks.Count).FirstOrDefault();
}
