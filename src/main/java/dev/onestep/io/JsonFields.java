package dev.onestep.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Typed, checked access to one parsed JSON object (a config file, an index, a header entry).
 *
 * <p>Every failure is a {@link WeightsException} that names the source and the key:
 * {@code "unet/config.json: missing key 'in_channels'"},
 * {@code "unet/config.json: key 'block_out_channels' should be an integer list, got a string \"320\""}.
 * "opt" getters return the default when the key is absent <em>or</em> null, as diffusers does
 * (its saved configs write explicit nulls for unset options).
 */
public final class JsonFields {
    private final Map<String, Object> map;
    private final String source;

    public JsonFields(Map<String, Object> map, String source) {
        this.map = map;
        this.source = source;
    }

    /** Reads and parses a JSON file that must hold an object (strict UTF-8). */
    public static JsonFields read(Path file) {
        return new JsonFields(readObject(file), file.toString());
    }

    /**
     * The largest JSON file read (configs are a few kB, a CLIP tokenizer.json about 3.5 MB): a bigger one — or a FIFO,
     * a device — is refused instead of filling the heap or blocking.
     */
    public static final long MAX_FILE_BYTES = 64L << 20;

    /** Reads a JSON object file; errors name the file. */
    public static Map<String, Object> readObject(Path file) {
        byte[] bytes;
        try {
            bytes = BoundedRead.readAll(file, MAX_FILE_BYTES, java.time.Duration.ofSeconds(10));
        } catch (NoSuchFileException e) {
            throw new WeightsException(file + ": file not found");
        } catch (IOException e) {
            String m = e.getMessage() != null && e.getMessage().startsWith(file.toString()) ? e.getMessage() : file + ": cannot read: " + e.getMessage();
            throw new WeightsException(m, e);
        }
        return parseObject(bytes, file.toString());
    }

    /** Decodes strict UTF-8 and parses a JSON object; {@code source} names it in errors. */
    public static Map<String, Object> parseObject(byte[] utf8, String source) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(utf8)).toString();
        } catch (CharacterCodingException e) {
            throw new WeightsException(source + ": not valid UTF-8 (" + e.getMessage() + ")");
        }
        Object v;
        try {
            v = Json.parse(text);
        } catch (IllegalArgumentException e) {
            throw new WeightsException(source + ": not valid JSON: " + e.getMessage(), e);
        }
        if (!(v instanceof Map)) throw new WeightsException(source + ": expected a JSON object, got " + Json.describe(v));
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) v;
        return m;
    }

    public Map<String, Object> map() { return Collections.unmodifiableMap(map); }

    public String source() { return source; }

    /** True when the key is present with a non-null value. */
    public boolean has(String key) { return map.get(key) != null; }

    /** The raw value (null when absent or null). */
    public Object raw(String key) { return map.get(key); }

    /** A WeightsException "SOURCE: key 'KEY' MESSAGE". */
    public WeightsException error(String key, String message) {
        return new WeightsException(source + ": key '" + key + "' " + message);
    }

    private Object required(String key) {
        Object v = map.get(key);
        if (v == null) {
            if (map.containsKey(key)) throw error(key, "is null but is required");
            throw new WeightsException(source + ": missing key '" + key + "'");
        }
        return v;
    }

    // ---- integers

    public int reqInt(String key) { return toInt(key, required(key)); }

    public int optInt(String key, int dflt) { return has(key) ? toInt(key, map.get(key)) : dflt; }

    public Integer optIntOrNull(String key) { return has(key) ? toInt(key, map.get(key)) : null; }

    public long reqLong(String key) {
        if (required(key) instanceof Long l) return l;
        throw error(key, "should be an integer, got " + Json.describe(map.get(key)));
    }

    private int toInt(String key, Object v) {
        if (v instanceof Long l && l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) return (int) (long) l;
        throw error(key, "should be an integer" + (v instanceof Long ? " in int range" : "") + ", got " + Json.describe(v));
    }

    // ---- floating point (JSON integers are accepted: "scaling_factor": 1 is a valid float)

    public double reqDouble(String key) { return toDouble(key, required(key)); }

    public double optDouble(String key, double dflt) { return has(key) ? toDouble(key, map.get(key)) : dflt; }

    public Double optDoubleOrNull(String key) { return has(key) ? toDouble(key, map.get(key)) : null; }

    private double toDouble(String key, Object v) {
        if (v instanceof Long l) return l;
        if (v instanceof Double d) return d;
        throw error(key, "should be a number, got " + Json.describe(v));
    }

    // ---- strings and booleans

    public String reqString(String key) { return toStr(key, required(key)); }

    /** The string value, or {@code dflt} (which may be null) when absent or null. */
    public String optString(String key, String dflt) { return has(key) ? toStr(key, map.get(key)) : dflt; }

    private String toStr(String key, Object v) {
        if (v instanceof String s) return s;
        throw error(key, "should be a string, got " + Json.describe(v));
    }

    public boolean reqBool(String key) { return toBool(key, required(key)); }

    public boolean optBool(String key, boolean dflt) { return has(key) ? toBool(key, map.get(key)) : dflt; }

    private boolean toBool(String key, Object v) {
        if (v instanceof Boolean b) return b;
        throw error(key, "should be true or false, got " + Json.describe(v));
    }

    // ---- lists

    public int[] reqIntList(String key) { return toIntList(key, required(key)); }

    public int[] optIntListOrNull(String key) { return has(key) ? toIntList(key, map.get(key)) : null; }

    /**
     * diffusers' "int or per-block list" options (layers_per_block, attention_head_dim, ...): an integer is
     * repeated {@code blocks} times; a list is returned as written (its length is checked by validate(),
     * which can name both lengths). Absent/null gives {@code dflt} repeated, or null when {@code dflt} is null.
     */
    public int[] intOrList(String key, int blocks, Integer dflt) {
        Object v = map.get(key);
        if (v == null) return dflt == null ? null : repeat(dflt, blocks);
        if (v instanceof Long) return repeat(toInt(key, v), blocks);
        if (v instanceof List) return toIntList(key, v);
        throw error(key, "should be an integer or an integer list, got " + Json.describe(v));
    }

    /** As {@link #intOrList} but the key must be present. */
    public int[] reqIntOrList(String key, int blocks) {
        required(key);
        return intOrList(key, blocks, null);
    }

    private static int[] repeat(int v, int n) {
        int[] a = new int[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    private int[] toIntList(String key, Object v) {
        if (v instanceof List<?> l) {
            int[] out = new int[l.size()];
            for (int i = 0; i < out.length; i++) {
                if (!(l.get(i) instanceof Long x) || x < Integer.MIN_VALUE || x > Integer.MAX_VALUE)
                    throw error(key, "should be an integer list, got " + Json.describe(l.get(i)) + " at index " + i);
                out[i] = (int) (long) x;
            }
            return out;
        }
        throw error(key, "should be an integer list, got " + Json.describe(v));
    }

    public double[] optDoubleListOrNull(String key) {
        Object v = map.get(key);
        if (v == null) return null;
        if (!(v instanceof List<?> l)) throw error(key, "should be a number list, got " + Json.describe(v));
        double[] out = new double[l.size()];
        for (int i = 0; i < out.length; i++) {
            Object x = l.get(i);
            if (x instanceof Long n) out[i] = n;
            else if (x instanceof Double d) out[i] = d;
            else throw error(key, "should be a number list, got " + Json.describe(x) + " at index " + i);
        }
        return out;
    }

    public List<String> reqStringList(String key) { return toStrList(key, required(key)); }

    public List<String> optStringList(String key, List<String> dflt) { return has(key) ? toStrList(key, map.get(key)) : dflt; }

    private List<String> toStrList(String key, Object v) {
        if (!(v instanceof List<?> l)) throw error(key, "should be a string list, got " + Json.describe(v));
        List<String> out = new ArrayList<>(l.size());
        for (int i = 0; i < l.size(); i++) {
            if (!(l.get(i) instanceof String s)) throw error(key, "should be a string list, got " + Json.describe(l.get(i)) + " at index " + i);
            out.add(s);
        }
        return List.copyOf(out);
    }

    // ---- objects

    public JsonFields reqObject(String key) { return toObj(key, required(key)); }

    public JsonFields optObject(String key) { return has(key) ? toObj(key, map.get(key)) : null; }

    @SuppressWarnings("unchecked")
    private JsonFields toObj(String key, Object v) {
        if (v instanceof Map<?, ?> m) return new JsonFields((Map<String, Object>) m, source + " '" + key + "'");
        throw error(key, "should be an object, got " + Json.describe(v));
    }
}
