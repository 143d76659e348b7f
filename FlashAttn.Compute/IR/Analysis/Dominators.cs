namespace FlashAttn.Compute.IR.Analysis;

/// <summary>
/// The dominator tree of a function's reachable blocks, computed with the iterative algorithm of
/// Cooper, Harvey and Kennedy ("A Simple, Fast Dominance Algorithm") over reverse post-order.
/// </summary>
public sealed class Dominators
{
    private readonly Dictionary<BasicBlock, int> _order = [];
    private readonly Dictionary<BasicBlock, BasicBlock> _idom = [];
    private readonly Dictionary<BasicBlock, List<BasicBlock>> _children = [];

    /// <summary>Computes the dominator tree of <paramref name="function"/>.</summary>
    public Dominators(Function function)
    {
        Function = function;
        Predecessors = function.ComputePredecessors();
        ReversePostOrder = ComputeReversePostOrder(function);
        for (int i = 0; i < ReversePostOrder.Count; i++) _order[ReversePostOrder[i]] = i;

        var entry = function.Entry;
        _idom[entry] = entry;
        bool changed = true;
        while (changed)
        {
            changed = false;
            for (int i = 1; i < ReversePostOrder.Count; i++)
            {
                var block = ReversePostOrder[i];
                BasicBlock? newIdom = null;
                foreach (var pred in Predecessors[block])
                {
                    if (!_idom.ContainsKey(pred)) continue; // unreachable or not yet processed
                    newIdom = newIdom is null ? pred : Intersect(pred, newIdom);
                }
                if (newIdom is not null && (!_idom.TryGetValue(block, out var old) || old != newIdom))
                {
                    _idom[block] = newIdom;
                    changed = true;
                }
            }
        }
        foreach (var block in ReversePostOrder) _children[block] = [];
        foreach (var block in ReversePostOrder)
            if (block != entry) _children[_idom[block]].Add(block);
    }

    /// <summary>The analysed function.</summary>
    public Function Function { get; }

    /// <summary>Predecessors of every block (as computed when the analysis ran).</summary>
    public Dictionary<BasicBlock, List<BasicBlock>> Predecessors { get; }

    /// <summary>Reachable blocks in reverse post-order (entry first).</summary>
    public IReadOnlyList<BasicBlock> ReversePostOrder { get; }

    /// <summary>True when <paramref name="block"/> is reachable from the entry.</summary>
    public bool IsReachable(BasicBlock block) => _order.ContainsKey(block);

    /// <summary>The immediate dominator (null for the entry and for unreachable blocks).</summary>
    public BasicBlock? ImmediateDominator(BasicBlock block)
        => block == Function.Entry || !_idom.TryGetValue(block, out var idom) ? null : idom;

    /// <summary>Blocks immediately dominated by <paramref name="block"/>.</summary>
    public IReadOnlyList<BasicBlock> Children(BasicBlock block)
        => _children.TryGetValue(block, out var list) ? list : [];

    /// <summary>True when <paramref name="a"/> dominates <paramref name="b"/> (reflexive). False for unreachable blocks.</summary>
    public bool Dominates(BasicBlock a, BasicBlock b)
    {
        if (!IsReachable(a) || !IsReachable(b)) return false;
        while (true)
        {
            if (a == b) return true;
            if (b == Function.Entry) return false;
            b = _idom[b];
        }
    }

    /// <summary>True when <paramref name="from"/> → <paramref name="to"/> is a back edge (<paramref name="to"/> dominates
    /// <paramref name="from"/>). Only an edge that goes back in reverse post-order can be one, so the others are answered
    /// without walking the tree: in unrolled straight-line code that walk reaches the entry from thousands of blocks deep.</summary>
    public bool IsBackEdge(BasicBlock from, BasicBlock to)
        => _order.TryGetValue(from, out int fromOrder) && _order.TryGetValue(to, out int toOrder) && toOrder <= fromOrder && Dominates(to, from);

    private BasicBlock Intersect(BasicBlock a, BasicBlock b)
    {
        while (a != b)
        {
            while (_order[a] > _order[b]) a = _idom[a];
            while (_order[b] > _order[a]) b = _idom[b];
        }
        return a;
    }

    /// <summary>Reachable blocks of <paramref name="function"/> in reverse post-order (iterative DFS).</summary>
    public static List<BasicBlock> ComputeReversePostOrder(Function function)
    {
        var postOrder = new List<BasicBlock>();
        if (function.Blocks.Count == 0) return postOrder;
        var visited = new HashSet<BasicBlock> { function.Entry };
        var stack = new Stack<(BasicBlock Block, int Next)>();
        stack.Push((function.Entry, 0));
        while (stack.Count > 0)
        {
            var (block, next) = stack.Pop();
            var successors = block.Successors;
            if (next < successors.Count)
            {
                stack.Push((block, next + 1));
                var successor = successors[next];
                if (visited.Add(successor)) stack.Push((successor, 0));
            }
            else postOrder.Add(block);
        }
        postOrder.Reverse();
        return postOrder;
    }
}
