package dev.onestep.io.config;

import dev.onestep.io.JsonFields;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * model_index.json of a diffusers pipeline folder: the pipeline class and its components.
 *
 * @param className  "_class_name" (e.g. MarigoldPipeline), or null when absent
 * @param components component name → [library, class], in file order. Keys starting with "_" and values
 *                   that are not two-element lists (e.g. SD's {@code "requires_safety_checker": false}) are
 *                   skipped; entries may hold nulls ({@code "safety_checker": [null, null]} means "none").
 */
public record ModelIndex(Path source, String className, Map<String, List<String>> components) {

    public static ModelIndex load(Path modelIndexJson) {
        return fromJson(JsonFields.read(modelIndexJson).map(), modelIndexJson);
    }

    public static ModelIndex fromJson(Map<String, Object> json, Path source) {
        JsonFields f = new JsonFields(json, String.valueOf(source));
        Map<String, List<String>> comps = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : json.entrySet()) {
            if (e.getKey().startsWith("_")) continue;
            if (!(e.getValue() instanceof List<?> l) || l.size() != 2) continue;
            if (!(l.get(0) == null || l.get(0) instanceof String) || !(l.get(1) == null || l.get(1) instanceof String))
                throw f.error(e.getKey(), "should be [library, class] strings, got " + l);
            List<String> pair = new ArrayList<>(2);
            pair.add((String) l.get(0));
            pair.add((String) l.get(1));
            comps.put(e.getKey(), Collections.unmodifiableList(pair));
        }
        return new ModelIndex(source, f.optString("_class_name", null), Collections.unmodifiableMap(comps));
    }

    /** True when the component is listed with a class (not [null, null]). */
    public boolean has(String component) {
        List<String> c = components.get(component);
        return c != null && c.get(1) != null;
    }

    /** The component's class name, or null. */
    public String classOf(String component) {
        List<String> c = components.get(component);
        return c == null ? null : c.get(1);
    }
}
