package dev.onestep;

/**
 * The JVM options OneStep needs, checked before anything that depends on them is loaded: the Vector API module
 * ({@code --add-modules jdk.incubator.vector}, without which the CPU kernels' classes fail to link) and native
 * access for the memory mapping and native libraries ({@code --enable-native-access=ALL-UNNAMED} on the class
 * path, {@code =dev.onestep} on the module path). A JVM without them gets one exception naming the flags, instead
 * of a NoClassDefFoundError from a static initialiser deep inside a prediction.
 */
final class JvmFlags {
    private JvmFlags() {}

    /** What is missing, or null when the JVM has everything. */
    static String missing() {
        Module self = JvmFlags.class.getModule();
        String target = self.isNamed() ? self.getName() : "ALL-UNNAMED";
        boolean vector = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
        boolean nativeAccess = self.isNativeAccessEnabled();
        if (vector && nativeAccess) return null;
        StringBuilder m = new StringBuilder("OneStep needs JVM options this JVM was started without: ");
        if (!vector) m.append("--add-modules jdk.incubator.vector");
        if (!vector && !nativeAccess) m.append(' ');
        if (!nativeAccess) m.append("--enable-native-access=").append(target);
        m.append(" (add them to the java command line, or for a jar to JDK_JAVA_OPTIONS; the full set is "
                + "--add-modules jdk.incubator.vector --enable-native-access=").append(target).append(")");
        return m.toString();
    }

    /** Throws {@link IllegalStateException} naming the missing flags. */
    static void check() {
        String m = missing();
        if (m != null) throw new IllegalStateException(m);
    }
}
