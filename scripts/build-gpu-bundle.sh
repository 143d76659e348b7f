#!/usr/bin/env bash
# Builds bundle/: the tests, the benchmarks and the main job, published framework-dependent, plus one
# copy of the .NET runtime, so they run on a GPU machine that has no .NET installed.
#
#   scripts/build-gpu-bundle.sh            # writes bundle/ (about 36 MB)
#   bundle/run.sh Tests [test options]     # on the GPU machine: the NUnit test executable
#   bundle/run.sh Bench [bench options]    # the benchmarks
#   bundle/run.sh App                      # the main job
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/bundle
cache=$root/.bundle-cache
rm -rf "$out"
mkdir -p "$out" "$cache"

apps=$(mktemp -d)
# The FlashAttn libraries as ReadyToRun images, as the packages carry them (Directory.Build.targets); DOTNET_ReadyToRunExcludeList
# ("FlashAttn.Compute;FlashAttn.Kernels;FlashAttn.Core") on the GPU machine runs their IL instead.
for app in Tests Bench App; do
  dotnet publish "$root/FlashAttn.$app/FlashAttn.$app.csproj" -c Release -r linux-x64 --self-contained false \
    -p:UseAppHost=false -p:GenerateDocumentationFile=false -p:PublishReadyToRun=true \
    '-p:ReadyToRunAssemblies="FlashAttn.Compute.dll;FlashAttn.Kernels.dll;FlashAttn.Core.dll"' -o "$apps/$app" --nologo -v quiet
done
# Compressed: the device tool carries at most 64 MiB, and BenchmarkDotNet alone publishes 27 MB.
XZ_OPT=-T0 tar -C "$apps" -cJf "$out/apps.tar.xz" Tests Bench App
rm -rf "$apps"

# The runtime (host + Microsoft.NETCore.App) is the same for every build: pack it once.
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime_version=$(dotnet --list-runtimes | awk '/Microsoft.NETCore.App/ {v=$2} END {print v}')
runtime_tar=$cache/dotnet-runtime-$runtime_version.tar.xz
if [ ! -f "$runtime_tar" ]; then
  XZ_OPT=-T0 tar -C "$dotnet_root" -cJf "$runtime_tar.tmp" dotnet host "shared/Microsoft.NETCore.App/$runtime_version"
  mv "$runtime_tar.tmp" "$runtime_tar"
fi
cp "$runtime_tar" "$out/dotnet-runtime.tar.xz"

cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs one of the bundled programs with the bundled runtime: run.sh Tests|Bench|App [arguments]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
runtime=${FLASHATTN_DOTNET_ROOT:-/tmp/flashattn-dotnet}
if [ ! -x "$runtime/dotnet" ]; then
  mkdir -p "$runtime"
  tar -C "$runtime" -xJf "$here/dotnet-runtime.tar.xz"
fi
apps=${FLASHATTN_APPS:-/tmp/flashattn-apps}
if [ ! -f "$apps/.stamp" ] || [ "$here/apps.tar.xz" -nt "$apps/.stamp" ]; then
  rm -rf "$apps" && mkdir -p "$apps"
  tar -C "$apps" -xJf "$here/apps.tar.xz"
  touch "$apps/.stamp"
fi
app=$1; shift
export DOTNET_ROOT=$runtime DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
exec "$runtime/dotnet" "$apps/$app/FlashAttn.$app.dll" "$@"
RUN
chmod +x "$out/run.sh"
git -C "$root" rev-parse --short HEAD > "$out/COMMIT"
du -sh "$out"
