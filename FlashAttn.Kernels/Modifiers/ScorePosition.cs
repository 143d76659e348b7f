namespace FlashAttn;

/// <summary>
/// Where one attention score sits, as a score or mask modifier sees it: the sequence (<see cref="Batch"/>: the batch index,
/// or the sequence of a varlen call), the query head, and the query and key positions within the sequence.
/// <see cref="Diagonal"/> is the key aligned with the query (query + s_k − s_q bottom-right, or the query top-left), so
/// <c>Key − Diagonal</c> is the relative position ALiBi and relative biases use.
/// </summary>
public readonly struct ScorePosition(int batch, int head, int query, int key, int diagonal)
{
    /// <summary>Batch index (the sequence's index for varlen and KV-cache calls).</summary>
    public int Batch { get; } = batch;

    /// <summary>Query head.</summary>
    public int Head { get; } = head;

    /// <summary>Query position within the sequence.</summary>
    public int Query { get; } = query;

    /// <summary>Key position within the sequence.</summary>
    public int Key { get; } = key;

    /// <summary>The key on the query's causal diagonal.</summary>
    public int Diagonal { get; } = diagonal;
}
