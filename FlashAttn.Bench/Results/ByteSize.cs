using System.Globalization;

namespace FlashAttn.Bench.Results;

/// <summary>Byte counts for people: binary units, three significant digits.</summary>
internal static class ByteSize
{
    /// <summary>E.g. "1.25 GiB", "640 MiB", "12.0 KiB", "512 B".</summary>
    public static string Format(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        int unit = 0;
        while (Math.Abs(value) >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        string number = unit == 0 ? bytes.ToString(CultureInfo.InvariantCulture) : value.ToString(value >= 100 ? "F0" : value >= 10 ? "F1" : "F2", CultureInfo.InvariantCulture);
        return $"{number} {units[unit]}";
    }

    /// <summary><see cref="Format"/>, or "—" for null.</summary>
    public static string Format(long? bytes) => bytes is { } b ? Format(b) : "—";
}
