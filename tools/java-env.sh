# Sourced by ./onestep, tools/test and .ci/run: points JAVA_HOME at a JDK 25 (Temurin 25 preferred).
# Keeps an existing JAVA_HOME only when it is already version 25 or newer.
onestep_java_ok() { [[ -x "$1/bin/java" ]] && "$1/bin/java" -version 2>&1 | grep -qE 'version "(2[5-9]|[3-9][0-9])'; }
if [[ -z "${JAVA_HOME:-}" ]] || ! onestep_java_ok "$JAVA_HOME"; then
  for cand in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk /usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25*; do
    if onestep_java_ok "$cand"; then JAVA_HOME=$cand; break; fi
  done
fi
if [[ -z "${JAVA_HOME:-}" ]] || ! onestep_java_ok "$JAVA_HOME"; then
  echo "onestep: JDK 25 is required (Temurin 25: https://adoptium.net); set JAVA_HOME to it" >&2
  exit 1
fi
export JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"
# Maven's bundled Guava calls sun.misc.Unsafe, which JDK 24+ warns about on every build; allow it for Maven only.
case " ${MAVEN_OPTS:-} " in *sun-misc-unsafe-memory-access*) ;; *) export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" ;; esac
