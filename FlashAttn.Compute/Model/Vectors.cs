using System.Runtime.InteropServices;

namespace FlashAttn.Compute;

/// <summary>Four floats moved as one 16-byte access (ld.v4.f32 / st.v4.f32). Views of it must be 16-byte aligned.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
[VectorType]
public struct Float4(float x, float y, float z, float w)
{
    /// <summary>Components.</summary>
    public float X = x, Y = y, Z = z, W = w;
}

/// <summary>Two floats moved as one 8-byte access (ld.v2.f32). Views of it must be 8-byte aligned.</summary>
[StructLayout(LayoutKind.Sequential, Size = 8)]
[VectorType]
public struct Float2(float x, float y)
{
    /// <summary>Components.</summary>
    public float X = x, Y = y;
}

/// <summary>Four ints moved as one 16-byte access (ld.v4.u32).</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
[VectorType]
public struct Int4(int x, int y, int z, int w)
{
    /// <summary>Components.</summary>
    public int X = x, Y = y, Z = z, W = w;
}

/// <summary>Two ints moved as one 8-byte access (ld.v2.u32); also a two-register tensor-core fragment.</summary>
[StructLayout(LayoutKind.Sequential, Size = 8)]
[VectorType]
public struct Int2(int x, int y)
{
    /// <summary>Components.</summary>
    public int X = x, Y = y;
}

/// <summary>Marks a struct whose loads and stores the compiler may emit as one vector access.</summary>
[AttributeUsage(AttributeTargets.Struct)]
internal sealed class VectorTypeAttribute : Attribute;
