using System.Diagnostics;
using System.Runtime.CompilerServices;
using FlashAttn.Distributed;

namespace FlashAttn.Tests.Distributed;

/// <summary>
/// The NCCL transport's parts that need no GPU and no NCCL: loading the library (and failing to), the unique id's text,
/// the rendezvous protocols, the error text, and the argument checks that come before NCCL is touched.
/// </summary>
[NonParallelizable] // sets environment variables
public class NcclTests
{
    private Device _cpu = null!;
    private string _folder = null!;

    [OneTimeSetUp]
    public void OpenDevice() => _cpu = Device.Cpu(1);

    [OneTimeTearDown]
    public void CloseDevice() => _cpu.Dispose();

    [SetUp]
    public void MakeFolder()
    {
        _folder = Path.Combine(Path.GetTempPath(), "flashattn-nccl-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
    }

    [TearDown]
    public void RemoveFolder()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    private static NcclUniqueId SampleId(byte seed = 0)
    {
        var bytes = new byte[NcclUniqueId.Size];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)(i * 7 + seed);
        return NcclUniqueId.FromBytes(bytes);
    }

    // ---- loading the library ----

    [Test]
    public void AMissingConfiguredLibraryIsReportedWithItsPathAndTheVariable()
    {
        var path = Path.Combine(_folder, "no-such-libnccl.so.2");
        var e = Assert.Throws<DeviceUnavailableException>(() => NcclLibrary.LoadFrom(path))!;
        Assert.That(e.Message, Does.Contain(path));
        Assert.That(e.Message, Does.Contain("FLASHATTN_NCCL_LIBRARY"));
        Assert.That(e.Message, Does.Contain("site-packages/nvidia/nccl/lib/libnccl.so.2"));

        Assert.That(NcclLibrary.TryLoad(path, out var library, out var error), Is.False);
        Assert.That(library, Is.Null);
        Assert.That(error, Is.EqualTo(e.Message));
    }

    [Test]
    public void AConfiguredFileThatIsNoLibraryIsReportedWithItsPath()
    {
        var path = Path.Combine(_folder, "libnccl.so.2");
        File.WriteAllText(path, "not a shared library");
        var e = Assert.Throws<DeviceUnavailableException>(() => NcclLibrary.LoadFrom(path))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("FLASHATTN_NCCL_LIBRARY"));
    }

    [Test]
    public void TheVariableNamesTheOnlyFileTriedElseTheDefaultNamesAre()
    {
        Assert.That(NcclLibrary.Candidates(null), Is.EqualTo(new[] { "libnccl.so.2", "libnccl.so" }));
        Assert.That(NcclLibrary.Candidates("  "), Is.EqualTo(new[] { "libnccl.so.2", "libnccl.so" }));
        Assert.That(NcclLibrary.Candidates(" /opt/nccl/libnccl.so.2 "), Is.EqualTo(new[] { "/opt/nccl/libnccl.so.2" }));
    }

    [Test]
    public void WithoutNcclTheDefaultSearchNamesBothFilesAndTheVariable()
    {
        bool loaded = NcclLibrary.TryLoad(null, out _, out var error);
        Assume.That(loaded, Is.False, "NCCL is installed here");
        Assert.That(error, Does.Contain("libnccl.so.2").And.Contain("libnccl.so ").And.Contain("FLASHATTN_NCCL_LIBRARY"));
    }

    [Test]
    public void AFailedLoadFromABadPathLeavesTheProcessWideLoaderAsItWas()
    {
        bool before = NcclProcessGroup.IsAvailable;
        Assert.Throws<DeviceUnavailableException>(() => NcclLibrary.LoadFrom(Path.Combine(_folder, "missing.so")));
        Assert.That(NcclProcessGroup.IsAvailable, Is.EqualTo(before));
    }

    [Test]
    public void WithoutNcclMakingAnIdSaysNcclIsUnavailable()
    {
        Assume.That(NcclProcessGroup.IsAvailable, Is.False, "NCCL is installed here");
        var e = Assert.Throws<DeviceUnavailableException>(() => NcclUniqueId.Create())!;
        Assert.That(e.Message, Does.Contain("FLASHATTN_NCCL_LIBRARY"));
    }

    [TestCase(22105, "2.21.5")]
    [TestCase(21003, "2.10.3")]
    [TestCase(2708, "2.7.8")]
    public void VersionCodesAreDecodedInBothOfNcclsEncodings(int code, string version)
        => Assert.That(NcclLibrary.DecodeVersion(code), Is.EqualTo(Version.Parse(version)));

    // ---- ABI ----

    [Test]
    public void TheNativeIdIs128BytesAndTheDataTypesAreNcclsCodes()
    {
        Assert.That(Unsafe.SizeOf<NcclUniqueIdNative>(), Is.EqualTo(128));
        Assert.That((int)NcclDataTypes.Of(DType.Float32), Is.EqualTo(7));
        Assert.That((int)NcclDataTypes.Of(DType.Float16), Is.EqualTo(6));
        Assert.That((int)NcclDataTypes.Of(DType.BFloat16), Is.EqualTo(9));
        Assert.That((int)NcclDataTypes.Of(DType.Int32), Is.EqualTo(2));
        Assert.That((int)NcclDataType.Int64, Is.EqualTo(4));
    }

    [Test]
    public unsafe void TheNativeIdCarriesTheBytesInOrder()
    {
        var id = SampleId(3);
        var native = id.ToNative();
        var bytes = new ReadOnlySpan<byte>(native.Internal, NcclUniqueId.Size).ToArray();
        Assert.That(bytes, Is.EqualTo(id.Bytes.ToArray()));
    }

    // ---- the unique id ----

    [Test]
    public void AnIdRoundTripsThroughItsHexText()
    {
        var id = SampleId();
        var text = id.ToString();
        Assert.That(text, Has.Length.EqualTo(256));
        Assert.That(text, Does.StartWith("00070e151c232a31")); // bytes 0, 7, 14, 21, ... as two lowercase digits each
        Assert.That(text, Does.Match("^[0-9a-f]{256}$"));
        Assert.That(NcclUniqueId.Parse(text), Is.EqualTo(id));
        Assert.That(NcclUniqueId.Parse("  " + text.ToUpperInvariant() + "\n"), Is.EqualTo(id));
        Assert.That(NcclUniqueId.TryParse(text, out var parsed), Is.True);
        Assert.That(parsed, Is.EqualTo(id));
        Assert.That(parsed!.GetHashCode(), Is.EqualTo(id.GetHashCode()));
        Assert.That(SampleId(1), Is.Not.EqualTo(id));
    }

    [Test]
    public void ParsingRejectsWrongLengthsAndNonHexDigitsNamingTheArgument()
    {
        var text = SampleId().ToString();
        var shortText = Assert.Throws<FormatException>(() => NcclUniqueId.Parse(text[..254]))!;
        Assert.That(shortText.Message, Does.Contain("text").And.Contain("256").And.Contain("254"));

        var bad = text[..10] + "g" + text[11..];
        var notHex = Assert.Throws<FormatException>(() => NcclUniqueId.Parse(bad))!;
        Assert.That(notHex.Message, Does.Contain("text").And.Contain("character 10").And.Contain("'g'"));

        Assert.That(Assert.Throws<ArgumentNullException>(() => NcclUniqueId.Parse(null!))!.ParamName, Is.EqualTo("text"));
        Assert.That(NcclUniqueId.TryParse(null, out var none), Is.False);
        Assert.That(none, Is.Null);
        Assert.That(NcclUniqueId.TryParse(bad, out _), Is.False);
        Assert.That(NcclUniqueId.TryParse("", out _), Is.False);
    }

    [Test]
    public void AnIdNeedsExactly128Bytes()
    {
        var e = Assert.Throws<ArgumentException>(() => NcclUniqueId.FromBytes(new byte[127]))!;
        Assert.That(e.ParamName, Is.EqualTo("bytes"));
        Assert.That(e.Message, Does.Contain("127").And.Contain("128"));
    }

    [Test]
    public void AnIdCopiesTheBytesItIsMadeOf()
    {
        var bytes = SampleId().Bytes.ToArray();
        var id = NcclUniqueId.FromBytes(bytes);
        bytes[0] ^= 0xff;
        Assert.That(id.Bytes[0], Is.Not.EqualTo(bytes[0]));
    }

    // ---- errors ----

    [Test]
    public void AnNcclErrorNamesTheCallTheCodeAndNcclsMessages()
    {
        var e = new NcclException(NcclResult.RemoteError, "ncclGroupEnd", "remote process exited", "peer 3 closed the connection\n");
        Assert.That(e.Message, Does.StartWith("ncclGroupEnd failed: ncclRemoteError (6): remote process exited"));
        Assert.That(e.Message, Does.EndWith("NCCL's last error: peer 3 closed the connection"));
        Assert.That(e.Call, Is.EqualTo("ncclGroupEnd"));
        Assert.That(e.Result, Is.EqualTo(NcclResult.RemoteError));
        Assert.That(e.LastError, Is.EqualTo("peer 3 closed the connection"));

        var bare = new NcclException(NcclResult.InvalidUsage, "ncclSend", null, " ");
        Assert.That(bare.LastError, Is.Null);
        Assert.That(bare.Message, Does.Contain("ncclInvalidUsage (5)").And.Not.Contain("last error"));
        Assert.That(bare.ErrorString, Is.Not.Empty);
    }

    // ---- the file rendezvous ----

    [Test]
    public void Rank0PublishesTheIdAndAnotherRankReceivesIt()
    {
        var path = Path.Combine(_folder, "run-1", "nccl-id"); // the folder is made by the publisher
        var id = SampleId(5);
        var waiting = Task.Run(() => new FileRendezvous(path, TimeSpan.FromSeconds(30))
            .GetUniqueId(1, () => throw new AssertionException("rank 1 must not make an id")));
        Thread.Sleep(100); // let rank 1 start polling before the file exists
        Assert.That(waiting.IsCompleted, Is.False);

        int made = 0;
        var published = new FileRendezvous(path).GetUniqueId(0, () => { made++; return id; });
        Assert.That(published, Is.EqualTo(id));
        Assert.That(made, Is.EqualTo(1));
        Assert.That(waiting.Wait(TimeSpan.FromSeconds(30)), Is.True, "rank 1 never saw the id");
        Assert.That(waiting.Result, Is.EqualTo(id));

        Assert.That(File.ReadAllText(path), Is.EqualTo(id + "\n"));
        Assert.That(Directory.GetFiles(Path.GetDirectoryName(path)!), Is.EqualTo(new[] { path }), "a temporary file was left behind");
    }

    [Test]
    public void AwaitingGivesUpAfterTheTimeoutNamingThePath()
    {
        var path = Path.Combine(_folder, "never-written");
        var rendezvous = new FileRendezvous(path, TimeSpan.FromMilliseconds(300)) { PollInterval = TimeSpan.FromMilliseconds(20) };
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<TimeoutException>(() => rendezvous.GetUniqueId(2, () => SampleId()))!;
        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(250)));
        Assert.That(e.Message, Does.Contain(path).And.Contain("does not exist"));
    }

    [Test]
    public void AFileThatHoldsNoIdIsReportedWhenTheWaitEnds()
    {
        var path = Path.Combine(_folder, "garbage");
        File.WriteAllText(path, "not an id");
        var rendezvous = new FileRendezvous(path, TimeSpan.FromMilliseconds(200));
        var e = Assert.Throws<TimeoutException>(() => rendezvous.Await())!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("does not hold an id"));
    }

    [Test]
    public void Rank0RefusesToPublishOverAnExistingFile()
    {
        var path = Path.Combine(_folder, "stale");
        File.WriteAllText(path, SampleId(9) + "\n");
        var e = Assert.Throws<IOException>(() => new FileRendezvous(path).GetUniqueId(0, () => SampleId()))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("already exists"));
        Assert.That(File.ReadAllText(path), Is.EqualTo(SampleId(9) + "\n"));
        Assert.That(Directory.GetFiles(_folder), Has.Length.EqualTo(1));
    }

    [Test]
    public void AwaitingCanBeCanceled()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var rendezvous = new FileRendezvous(Path.Combine(_folder, "nothing"), Timeout.InfiniteTimeSpan);
        Assert.Catch<OperationCanceledException>(() => rendezvous.Await(cancel.Token));
    }

    [Test]
    public void TheFileRendezvousChecksItsArguments()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => new FileRendezvous(" "))!.ParamName, Is.EqualTo("path"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => new FileRendezvous(null!))!.ParamName, Is.EqualTo("path"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new FileRendezvous("x", TimeSpan.Zero))!.ParamName, Is.EqualTo("timeout"));
        var rendezvous = new FileRendezvous("relative/id");
        Assert.That(Path.IsPathFullyQualified(rendezvous.Path), Is.True);
        Assert.That(rendezvous.Timeout, Is.EqualTo(FileRendezvous.DefaultTimeout));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => rendezvous.GetUniqueId(-1, () => SampleId()))!.ParamName, Is.EqualTo("rank"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => rendezvous.GetUniqueId(0, null!))!.ParamName, Is.EqualTo("createId"));
    }

    // ---- the environment rendezvous ----

    [Test]
    public void EveryRankReadsTheIdTheLauncherPutInTheVariable()
    {
        var variable = "FLASHATTN_NCCL_TEST_ID_" + Guid.NewGuid().ToString("N");
        var id = SampleId(11);
        Environment.SetEnvironmentVariable(variable, id.ToString());
        try
        {
            var rendezvous = new EnvironmentRendezvous(variable);
            Assert.That(rendezvous.GetUniqueId(0, () => throw new AssertionException("no rank makes an id")), Is.EqualTo(id));
            Assert.That(rendezvous.GetUniqueId(3, () => throw new AssertionException("no rank makes an id")), Is.EqualTo(id));
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Test]
    public void AnUnsetOrMalformedVariableIsReportedByName()
    {
        var variable = "FLASHATTN_NCCL_TEST_ID_" + Guid.NewGuid().ToString("N");
        var rendezvous = new EnvironmentRendezvous(variable);
        var unset = Assert.Throws<InvalidOperationException>(() => rendezvous.Read())!;
        Assert.That(unset.Message, Does.Contain(variable).And.Contain("not set"));

        Environment.SetEnvironmentVariable(variable, "abc");
        try
        {
            var malformed = Assert.Throws<FormatException>(() => rendezvous.Read())!;
            Assert.That(malformed.Message, Does.Contain(variable).And.Contain("256"));
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Test]
    public void TheDefaultVariableIsFlashAttnNcclId()
    {
        Assert.That(EnvironmentRendezvous.DefaultVariable, Is.EqualTo("FLASHATTN_NCCL_ID"));
        Assert.That(new EnvironmentRendezvous().Variable, Is.EqualTo("FLASHATTN_NCCL_ID"));
        Assert.That(Assert.Throws<ArgumentException>(() => new EnvironmentRendezvous(""))!.ParamName, Is.EqualTo("variable"));
    }

    // ---- the group's argument checks (before NCCL is loaded) ----

    [Test]
    public void ACpuDeviceIsRefusedNamingDevice()
    {
        var e = Assert.Throws<ArgumentException>(() => NcclProcessGroup.Create(_cpu, 0, 1, SampleId()))!;
        Assert.That(e.ParamName, Is.EqualTo("device"));
        Assert.That(e.Message, Does.Contain("NCCL needs CUDA devices").And.Contain("InProcessGroup"));
    }

    [Test]
    public void ACpuDeviceIsRefusedBeforeTheRendezvousIsConsulted()
    {
        var path = Path.Combine(_folder, "id");
        var e = Assert.Throws<ArgumentException>(() => NcclProcessGroup.Create(_cpu, 0, 2, new FileRendezvous(path)))!;
        Assert.That(e.ParamName, Is.EqualTo("device"));
        Assert.That(File.Exists(path), Is.False, "rank 0 published an id for a group it cannot join");
    }

    [TestCase(-1, 2, "rank")]
    [TestCase(2, 2, "rank")]
    [TestCase(0, 0, "size")]
    [TestCase(0, -3, "size")]
    public void RankAndSizeAreChecked(int rank, int size, string parameter)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => NcclProcessGroup.Create(_cpu, rank, size, SampleId()))!;
        Assert.That(e.ParamName, Is.EqualTo(parameter));
        var viaRendezvous = Assert.Throws<ArgumentOutOfRangeException>(
            () => NcclProcessGroup.Create(_cpu, rank, size, new EnvironmentRendezvous("FLASHATTN_NCCL_TEST_UNSET")))!;
        Assert.That(viaRendezvous.ParamName, Is.EqualTo(parameter));
    }

    [Test]
    public void NullArgumentsAreNamed()
    {
        Assert.That(Assert.Throws<ArgumentNullException>(() => NcclProcessGroup.Create(null!, 0, 1, SampleId()))!.ParamName, Is.EqualTo("device"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => NcclProcessGroup.Create(_cpu, 0, 1, (NcclUniqueId)null!))!.ParamName, Is.EqualTo("id"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => NcclProcessGroup.Create(_cpu, 0, 1, (NcclRendezvous)null!))!.ParamName, Is.EqualTo("rendezvous"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => NcclProcessGroup.CreateAll(null!))!.ParamName, Is.EqualTo("devices"));
    }

    [Test]
    public void CreateAllChecksItsDevices()
    {
        var empty = Assert.Throws<ArgumentException>(() => NcclProcessGroup.CreateAll([]))!;
        Assert.That(empty.ParamName, Is.EqualTo("devices"));
        Assert.That(empty.Message, Does.Contain("empty"));

        var withNull = Assert.Throws<ArgumentException>(() => NcclProcessGroup.CreateAll([_cpu, null!]))!;
        Assert.That(withNull.ParamName, Is.EqualTo("devices"));
        Assert.That(withNull.Message, Does.Contain("devices[1] is null"));

        var twice = Assert.Throws<ArgumentException>(() => NcclProcessGroup.CreateAll([_cpu, _cpu]))!;
        Assert.That(twice.ParamName, Is.EqualTo("devices"));
        Assert.That(twice.Message, Does.Contain("devices[1] is devices[0] again"));

        var cpu = Assert.Throws<ArgumentException>(() => NcclProcessGroup.CreateAll([_cpu]))!;
        Assert.That(cpu.ParamName, Is.EqualTo("devices"));
        Assert.That(cpu.Message, Does.Contain("NCCL needs CUDA devices").And.Contain("devices[0]"));
    }
}
