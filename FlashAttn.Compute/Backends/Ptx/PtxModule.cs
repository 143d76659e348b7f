namespace FlashAttn.Compute.Backends.Ptx;

/// <summary>One compiled kernel as PTX text, ready for <c>cuModuleLoadDataEx</c>.</summary>
/// <param name="Text">The complete PTX module (one <c>.entry</c>).</param>
/// <param name="EntryName">The PTX-legal name of the entry (for <c>cuModuleGetFunction</c>).</param>
/// <param name="StaticSharedBytes">Bytes of static <c>.shared</c> memory the module declares (padding included).</param>
public sealed record PtxModule(string Text, string EntryName, int StaticSharedBytes);
