using FlashAttn.Job;

namespace FlashAttn;

/// <summary>The main job: <c>dotnet run -c Release --project FlashAttn.App [-- options]</c>; see <see cref="JobOptions.Usage"/>.</summary>
internal static class Program
{
    /// <summary>Exit codes: 0 all checks pass, 1 a check failed, 2 bad options, 3 an error.</summary>
    private static int Main(string[] args)
    {
        JobOptions options;
        try
        {
            options = JobOptions.Parse(args);
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(JobOptions.Usage);
            return 2;
        }
        if (options.Help)
        {
            Console.WriteLine(JobOptions.Usage);
            return 0;
        }
        try
        {
            return new AttentionJob(options, Console.Out).Run();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"error: {e.GetType().Name}: {e.Message}");
            return 3;
        }
    }
}
