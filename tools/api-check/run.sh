#!/usr/bin/env bash
# A program outside the project, compiled only against the installed artifact, must work with the documented names.
#   tools/api-check/run.sh [MODEL_DIR IMAGE...]     (default: the tiny test model and the fixtures' two images)
# Installs dev.onestep:onestep into the local Maven repository (mvn install -DskipTests: jar, sources, javadoc),
# then builds tools/api-check against that artifact alone (its own pom; nothing from target/classes) and runs it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/tools/java-env.sh"
(cd "$root" && mvn -q -B -ntp install -DskipTests)
here="$root/tools/api-check"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$here/pom.xml" "$here/src" "$work/"
(cd "$work" && mvn -q -B -ntp -o compile dependency:build-classpath -Dmdep.outputFile=cp.txt)
if (($# == 0)); then
  f="$root/src/test/resources/fixtures"
  set -- "$f/tiny-sd2" "$f/cases/case1_80x60/input.png" "$f/cases/case2_75x53/input.png" "$f/cases/case1_80x60/input.png"
fi
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -cp "$work/target/classes:$(cat "$work/cp.txt")" ApiCheck "$@"
