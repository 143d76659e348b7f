using FlashAttn.Cpu;

namespace FlashAttn.Tests.Cpu;

/// <summary>
/// The CPU path's fork-join (<see cref="CpuTeam"/>): every unit runs once with a worker number in range, back to back with
/// changing worker counts (more than the cores too), from concurrent callers, and a body's exception reaches the caller.
/// </summary>
public class CpuTeamTests
{
    [Test]
    public void EveryUnitRunsOnceOnAWorkerInRange()
    {
        var random = new Random(3);
        for (int loop = 0; loop < 3000; loop++)
        {
            int workers = 1 + random.Next(Environment.ProcessorCount + 3), count = random.Next(40);
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = workers };
            int limit = CpuTeam.Workers(count, parallel);
            var runs = new int[count];
            int outOfRange = 0;
            CpuTeam.For(count, parallel, (unit, worker) =>
            {
                Interlocked.Increment(ref runs[unit]);
                if (worker < 0 || worker >= limit) Interlocked.Increment(ref outOfRange);
                if (unit % 7 == 0) Thread.SpinWait(200 * unit);
            });
            Assert.That(runs, Is.All.EqualTo(1), $"loop {loop}: {workers} workers, {count} units");
            Assert.That(outOfRange, Is.Zero, $"loop {loop}: a worker number outside [0, {limit})");
        }
    }

    [Test]
    public void ConcurrentCallersEachRunTheirUnits()
    {
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = 3 };
        long total = 0;
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            for (int loop = 0; loop < 300; loop++) CpuTeam.For(10, parallel, unit => Interlocked.Add(ref total, unit + 1));
        });
        Assert.That(total, Is.EqualTo(4L * 300 * 55));
    }

    [Test]
    public void ABodysExceptionReachesTheCaller()
    {
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = 4 };
        var error = Assert.Throws<AggregateException>(() => CpuTeam.For(100, parallel, unit =>
        {
            if (unit == 37) throw new InvalidOperationException("unit 37");
        }));
        Assert.That(error!.InnerExceptions.Single().Message, Is.EqualTo("unit 37"));
        // and the team still works afterwards
        int ran = 0;
        CpuTeam.For(50, parallel, _ => Interlocked.Increment(ref ran));
        Assert.That(ran, Is.EqualTo(50));
    }
}
