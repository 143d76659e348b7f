using System.Text.Json;
using System.Text.Json.Serialization;

namespace FlashAttn.Bench.Results;

/// <summary>Writes a <see cref="DType"/> as its short name and reads either name.</summary>
internal sealed class DTypeJsonConverter : JsonConverter<DType>
{
    public override DType Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => DTypeNames.Parse(reader.GetString() ?? throw new JsonException("dtype must be a string."));

    public override void Write(Utf8JsonWriter writer, DType value, JsonSerializerOptions options)
        => writer.WriteStringValue(DTypeNames.Of(value));
}
