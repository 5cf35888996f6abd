package dev.onestep;

import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The library's public surface names only types of dev.onestep itself and of the JDK: no engine type
 * (pipeline.Task, io.hub.DownloadListener, image.Resize.Mode, …) in a public signature, so the engine can change
 * without breaking a user. Every type reachable from the front door is listed here; a new one must be added.
 */
class PublicApiTest {
    static final List<Class<?>> SURFACE = List.of(OneStep.class, OneStep.Options.class, OneStep.Options.Builder.class,
            OneStep.Listener.class, DepthMap.class, NormalMap.class, Recipe.class, StageTimes.class, Colormap.class,
            Resample.class, Task.class);

    @Test
    void publicSignaturesNameOnlyOneStepAndJdkTypes() {
        List<String> leaks = new ArrayList<>();
        for (Class<?> c : SURFACE) {
            for (Class<?> i : c.getInterfaces()) check(c.getName() + " implements", i, leaks);
            if (c.getSuperclass() != null) check(c.getName() + " extends", c.getSuperclass(), leaks);
            for (Method m : c.getDeclaredMethods()) {
                if (!Modifier.isPublic(m.getModifiers()) || m.isSynthetic()) continue;
                check(c.getSimpleName() + "." + m.getName() + " returns", m.getGenericReturnType(), leaks);
                for (Type p : m.getGenericParameterTypes()) check(c.getSimpleName() + "." + m.getName() + " takes", p, leaks);
                for (Class<?> e : m.getExceptionTypes()) check(c.getSimpleName() + "." + m.getName() + " throws", e, leaks);
            }
            for (var k : c.getConstructors())
                for (Type p : k.getGenericParameterTypes()) check(c.getSimpleName() + "(…) takes", p, leaks);
        }
        assertEquals(List.of(), leaks);
    }

    private static void check(String where, Type t, List<String> leaks) {
        String name = t.getTypeName();
        for (String part : name.split("[<>,\\[\\] ]+")) {
            if (part.isEmpty() || part.equals("?") || part.equals("extends") || part.equals("super") || !part.contains(".")) continue;
            boolean ok = part.startsWith("java.") || part.startsWith("javax.")
                    || (part.startsWith("dev.onestep.") && !part.substring("dev.onestep.".length()).matches("[a-z].*"));
            // exceptions a caller catches by name are documented engine types: allowed, and listed
            if (!ok && !EXCEPTIONS.contains(part)) leaks.add(where + " " + part);
        }
    }

    /** Exception types the front door documents (callers catch them by name). */
    static final List<String> EXCEPTIONS = List.of("dev.onestep.io.WeightsException", "dev.onestep.pipeline.NonFiniteException",
            "dev.onestep.image.ImageException", "dev.onestep.io.hub.HubException");
}
