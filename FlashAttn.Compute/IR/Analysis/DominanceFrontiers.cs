namespace FlashAttn.Compute.IR.Analysis;

/// <summary>Dominance frontiers of the reachable blocks (Cooper–Harvey–Kennedy's runner formulation).</summary>
public sealed class DominanceFrontiers
{
    private readonly Dictionary<BasicBlock, HashSet<BasicBlock>> _frontiers = [];

    /// <summary>Computes the frontiers from <paramref name="dominators"/>.</summary>
    public DominanceFrontiers(Dominators dominators)
    {
        foreach (var block in dominators.ReversePostOrder) _frontiers[block] = [];
        foreach (var block in dominators.ReversePostOrder)
        {
            var preds = dominators.Predecessors[block].Where(dominators.IsReachable).ToList();
            if (preds.Count < 2) continue;
            var idom = dominators.ImmediateDominator(block);
            foreach (var pred in preds)
            {
                BasicBlock? runner = pred;
                while (runner is not null && runner != idom)
                {
                    _frontiers[runner].Add(block);
                    runner = dominators.ImmediateDominator(runner);
                }
            }
        }
    }

    /// <summary>The dominance frontier of <paramref name="block"/> (empty for unreachable blocks).</summary>
    public IReadOnlySet<BasicBlock> Of(BasicBlock block)
        => _frontiers.TryGetValue(block, out var set) ? set : new HashSet<BasicBlock>();

    /// <summary>The iterated dominance frontier of a set of blocks (where phis go for variables defined in them).</summary>
    public HashSet<BasicBlock> Iterated(IEnumerable<BasicBlock> blocks)
    {
        var result = new HashSet<BasicBlock>();
        var work = new Stack<BasicBlock>(blocks);
        var seen = new HashSet<BasicBlock>(work);
        while (work.Count > 0)
        {
            foreach (var frontier in Of(work.Pop()))
                if (result.Add(frontier) && seen.Add(frontier))
                    work.Push(frontier);
        }
        return result;
    }
}
