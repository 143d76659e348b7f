using System.Globalization;
using System.Security;
using System.Text;

namespace FlashAttn.Bench.Plot;

/// <summary>
/// A line chart as plain SVG text: title, gridlines with tick labels, labelled axes, one polyline with point markers
/// (each with a tooltip) per series, and a legend right of the plot area. No package: the text is written here.
/// </summary>
internal static class SvgChart
{
    private const double Width = 760, Height = 440;
    private const double Left = 70, Right = 170, Top = 40, Bottom = 55;
    private const double PlotWidth = Width - Left - Right, PlotHeight = Height - Top - Bottom;

    /// <summary>The SVG document of a chart.</summary>
    public static string Render(string title, string xLabel, string yLabel, IChartAxis x, IChartAxis y, IReadOnlyList<ChartSeries> series)
    {
        var svg = new StringBuilder();
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{N(Width)}\" height=\"{N(Height)}\" viewBox=\"0 0 {N(Width)} {N(Height)}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        svg.Append($"<text x=\"{N(Left + PlotWidth / 2)}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">{Escape(title)}</text>\n");

        svg.Append("<g class=\"grid\" stroke=\"#dddddd\">\n");
        foreach (var (value, _) in x.Ticks) svg.Append(Line(X(x, value), Top, X(x, value), Top + PlotHeight));
        foreach (var (value, _) in y.Ticks) svg.Append(Line(Left, Y(y, value), Left + PlotWidth, Y(y, value)));
        svg.Append("</g>\n<g class=\"ticks\">\n");
        foreach (var (value, label) in x.Ticks)
            svg.Append($"<text x=\"{N(X(x, value))}\" y=\"{N(Top + PlotHeight + 18)}\" text-anchor=\"middle\">{Escape(label)}</text>\n");
        foreach (var (value, label) in y.Ticks)
            svg.Append($"<text x=\"{N(Left - 8)}\" y=\"{N(Y(y, value) + 4)}\" text-anchor=\"end\">{Escape(label)}</text>\n");
        svg.Append("</g>\n<g class=\"axes\" stroke=\"black\">\n");
        svg.Append(Line(Left, Top + PlotHeight, Left + PlotWidth, Top + PlotHeight)).Append(Line(Left, Top, Left, Top + PlotHeight));
        svg.Append("</g>\n");
        svg.Append($"<text class=\"x-label\" x=\"{N(Left + PlotWidth / 2)}\" y=\"{N(Height - 12)}\" text-anchor=\"middle\">{Escape(xLabel)}</text>\n");
        svg.Append($"<text class=\"y-label\" transform=\"translate(18 {N(Top + PlotHeight / 2)}) rotate(-90)\" text-anchor=\"middle\">{Escape(yLabel)}</text>\n");

        foreach (var s in series.OrderBy(s => s.Emphasized)) // the emphasized line last, on top
        {
            string width = s.Emphasized ? "3" : "1.8";
            svg.Append($"<g class=\"series\" data-name=\"{Escape(s.Name)}\" stroke=\"{s.Color}\" fill=\"{s.Color}\">\n");
            string points = string.Join(' ', s.Points.Select(p => $"{N(X(x, p.X))},{N(Y(y, p.Y))}"));
            svg.Append($"<polyline fill=\"none\" stroke-width=\"{width}\" points=\"{points}\"/>\n");
            foreach (var (px, py) in s.Points)
                svg.Append($"<circle cx=\"{N(X(x, px))}\" cy=\"{N(Y(y, py))}\" r=\"3\"><title>{Escape($"{s.Name}: {LogAxis.Label(px)} → {py:0.##}")}</title></circle>\n");
            svg.Append("</g>\n");
        }

        svg.Append("<g class=\"legend\">\n");
        for (int i = 0; i < series.Count; i++)
        {
            double ly = Top + 10 + 20 * i, lx = Left + PlotWidth + 16;
            svg.Append($"<line x1=\"{N(lx)}\" y1=\"{N(ly)}\" x2=\"{N(lx + 24)}\" y2=\"{N(ly)}\" stroke=\"{series[i].Color}\" stroke-width=\"{(series[i].Emphasized ? 3 : 1.8).ToString(CultureInfo.InvariantCulture)}\"/>\n");
            svg.Append($"<text x=\"{N(lx + 30)}\" y=\"{N(ly + 4)}\">{Escape(series[i].Name)}</text>\n");
        }
        svg.Append("</g>\n</svg>\n");
        return svg.ToString();
    }

    private static double X(IChartAxis axis, double value) => Left + axis.Fraction(value) * PlotWidth;

    private static double Y(IChartAxis axis, double value) => Top + (1 - axis.Fraction(value)) * PlotHeight;

    private static string Line(double x1, double y1, double x2, double y2)
        => $"<line x1=\"{N(x1)}\" y1=\"{N(y1)}\" x2=\"{N(x2)}\" y2=\"{N(y2)}\"/>\n";

    private static string N(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Escape(string text) => SecurityElement.Escape(text);
}
