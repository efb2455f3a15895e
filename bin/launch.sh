# Sourced by the launchers (bin/ddtree, bin/ddsetup, bin/ddsnap): finds a JDK 25, builds the project when it
# has not been built or a source or pom.xml is newer than the jar, then runs a module's main class.
# DDTREE_JAVA_OPTS adds options for the JVM.

ddtree_repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
# shellcheck source=bin/jdk.sh
source "$ddtree_repo/bin/jdk.sh"

# The modules a launcher runs from; one build makes all of them, so the launchers share it.
ddtree_launch_modules=(daemon ddsetup ddsnap)

ddtree_module_jar() { # $1: module directory; prints its jar, or nothing
    local j
    for j in "$ddtree_repo/$1"/target/ddtree-*.jar; do
        case "$j" in
            *-sources.jar | *-tests.jar | *-javadoc.jar) ;;
            *) [ -f "$j" ] && { echo "$j"; return 0; } ;;
        esac
    done
    return 0
}

ddtree_needs_build() {
    local m jar
    for m in "${ddtree_launch_modules[@]}"; do
        jar=$(ddtree_module_jar "$m")
        [ -n "$jar" ] && [ -d "$ddtree_repo/$m/target/lib" ] || return 0
        if [ -n "$(find "$ddtree_repo/pom.xml" "$ddtree_repo"/*/pom.xml "$ddtree_repo"/*/src/main -newer "$jar" -print -quit 2>/dev/null)" ]; then
            return 0
        fi
    done
    return 1
}

ddtree_build() { # $1: the launcher's name, for messages
    if ! command -v mvn >/dev/null 2>&1; then
        echo "$1: building needs Maven (mvn) and it is not on PATH (on Debian: apt-get install maven)" >&2
        exit 1
    fi
    echo "building ddtree..." >&2
    local log m modules
    modules=$(IFS=,; echo "${ddtree_launch_modules[*]}")
    # Quiet on success; on failure show Maven's output (without its colour codes).
    if ! log=$(cd "$ddtree_repo" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" \
            mvn -q -B -Dstyle.color=never -DskipTests -pl "$modules" -am package 2>&1); then
        printf '%s\n' "$log" | sed 's/\x1b\[[0-9;]*m//g' >&2
        echo "$1: the build failed (see above)" >&2
        exit 1
    fi
    # The jar plugin leaves an unchanged jar alone; mark each as built now so the check above holds.
    for m in "${ddtree_launch_modules[@]}"; do
        touch "$(ddtree_module_jar "$m")"
    done
}

ddtree_build_if_needed() { # $1: the launcher's name
    ddtree_needs_build || return 0
    if command -v flock >/dev/null 2>&1; then
        local lock
        lock="${TMPDIR:-/tmp}/ddtree-build-$(printf '%s' "$ddtree_repo" | cksum | cut -d' ' -f1).lock"
        exec 9>"$lock"
        flock 9
        # Another launcher may have built it while this one waited.
        if ddtree_needs_build; then
            ddtree_build "$1"
        fi
        flock -u 9
        exec 9>&-
    else
        ddtree_build "$1"
    fi
}

ddtree_exec() { # $1: launcher name, $2: module, $3: main class, then the arguments
    local name=$1 module=$2 main=$3
    shift 3
    ddtree_build_if_needed "$name"
    local jar
    jar=$(ddtree_module_jar "$module")
    # shellcheck disable=SC2086 # DDTREE_JAVA_OPTS is a list of options
    exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED --add-exports java.base/sun.nio.ch=ALL-UNNAMED \
        ${DDTREE_JAVA_OPTS:-} \
        -cp "$jar:$ddtree_repo/$module/target/lib/*" "$main" "$@"
}
