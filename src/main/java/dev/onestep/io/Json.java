package dev.onestep.io;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict, small RFC 8259 JSON parser for checkpoint headers and config files (no dependencies by design).
 *
 * <p>Value mapping: object → {@link LinkedHashMap}{@code <String, Object>} (key order kept), array →
 * {@link ArrayList}, string → {@link String}, number → {@link Long} when written as an integer (no fraction,
 * no exponent) that fits in a long, otherwise {@link Double}; {@code true}/{@code false} → {@link Boolean};
 * {@code null} → Java {@code null}. Both containers hold null, so "key present with null" is
 * {@code map.containsKey(k) && map.get(k) == null}, distinct from "key absent".
 *
 * <p>Strict: duplicate keys, trailing commas, comments, NaN/Infinity, leading zeros, unescaped control
 * characters and anything after the top-level value are rejected; nesting is capped at {@link #MAX_DEPTH}
 * so a hostile header cannot overflow the stack. The only leniency: a leading byte-order mark is skipped.
 * Errors are {@link IllegalArgumentException}s naming the character offset.
 */
public final class Json {
    /** Deepest nesting of arrays/objects accepted; real configs use 3 or fewer. */
    public static final int MAX_DEPTH = 64;

    private final String s;
    private int pos;

    private Json(String s) {
        this.s = s;
    }

    /** Parses one JSON value (the whole text must be that value plus whitespace). */
    public static Object parse(String text) {
        Json p = new Json(text);
        if (!text.isEmpty() && text.charAt(0) == '\uFEFF') p.pos = 1;
        p.skipWs();
        Object v = p.value(0);
        p.skipWs();
        if (p.pos != text.length()) throw p.error("unexpected '" + p.printable(text.charAt(p.pos)) + "' after the JSON value");
        return v;
    }

    /** Parses text that must be a JSON object. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseObject(String text) {
        Object v = parse(text);
        if (!(v instanceof Map)) throw new IllegalArgumentException("expected a JSON object, got " + describe(v));
        return (Map<String, Object>) v;
    }

    /** A short human description of a parsed value for error messages: a string "x", an integer 3, null, ... */
    public static String describe(Object v) {
        if (v == null) return "null";
        if (v instanceof String str) return "a string \"" + (str.length() > 40 ? str.substring(0, 40) + "..." : str) + "\"";
        if (v instanceof Long l) return "an integer " + l;
        if (v instanceof Double d) return "a number " + d;
        if (v instanceof Boolean b) return b.toString();
        if (v instanceof List<?> l) return "a list of " + l.size();
        if (v instanceof Map<?, ?>) return "an object";
        return v.getClass().getSimpleName();
    }

    private Object value(int depth) {
        if (pos >= s.length()) throw error("unexpected end of input, expected a value");
        char c = s.charAt(pos);
        return switch (c) {
            case '{' -> object(depth + 1);
            case '[' -> array(depth + 1);
            case '"' -> string();
            case 't' -> literal("true", Boolean.TRUE);
            case 'f' -> literal("false", Boolean.FALSE);
            case 'n' -> literal("null", null);
            default -> {
                if (c == '-' || (c >= '0' && c <= '9')) yield number();
                throw error("unexpected '" + printable(c) + "', expected a value");
            }
        };
    }

    private Map<String, Object> object(int depth) {
        checkDepth(depth);
        pos++; // '{'
        Map<String, Object> m = new LinkedHashMap<>();
        skipWs();
        if (peek() == '}') {
            pos++;
            return m;
        }
        while (true) {
            skipWs();
            if (peek() != '"') throw error("expected a string key");
            int keyAt = pos;
            String key = string();
            skipWs();
            expect(':');
            skipWs();
            Object v = value(depth);
            if (m.containsKey(key)) {
                pos = keyAt; // the error names where the second key starts
                throw error("duplicate key \"" + printableKey(key) + "\"");
            }
            m.put(key, v);
            skipWs();
            char c = peek();
            pos++;
            if (c == '}') return m;
            if (c != ',') {
                pos--;
                throw error("expected ',' or '}' in object");
            }
        }
    }

    private List<Object> array(int depth) {
        checkDepth(depth);
        pos++; // '['
        List<Object> list = new ArrayList<>();
        skipWs();
        if (peek() == ']') {
            pos++;
            return list;
        }
        while (true) {
            skipWs();
            list.add(value(depth));
            skipWs();
            char c = peek();
            pos++;
            if (c == ']') return list;
            if (c != ',') {
                pos--;
                throw error("expected ',' or ']' in array");
            }
        }
    }

    private String string() {
        pos++; // opening quote
        StringBuilder sb = null; // only allocated when the string has escapes
        int start = pos;
        while (true) {
            if (pos >= s.length()) throw error("unterminated string");
            char c = s.charAt(pos);
            if (c == '"') {
                String out = sb == null ? s.substring(start, pos) : sb.append(s, start, pos).toString();
                pos++;
                return out;
            }
            if (c < 0x20) throw error("unescaped control character U+" + String.format("%04X", (int) c) + " in string");
            if (c != '\\') {
                pos++;
                continue;
            }
            if (sb == null) sb = new StringBuilder();
            sb.append(s, start, pos);
            pos++;
            if (pos >= s.length()) throw error("unterminated escape");
            char e = s.charAt(pos++);
            switch (e) {
                case '"' -> sb.append('"');
                case '\\' -> sb.append('\\');
                case '/' -> sb.append('/');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> sb.append(hex4());
                default -> {
                    pos--;
                    throw error("invalid escape '\\" + printable(e) + "'");
                }
            }
            start = pos;
        }
    }

    /** Four hex digits after \\u. Surrogate pairs come out right because Java strings are UTF-16 too. */
    private char hex4() {
        if (pos + 4 > s.length()) throw error("truncated \\u escape");
        int v = 0;
        for (int i = 0; i < 4; i++) {
            int d = Character.digit(s.charAt(pos), 16);
            if (d < 0) throw error("invalid hex digit in \\u escape");
            v = v * 16 + d;
            pos++;
        }
        return (char) v;
    }

    private Object number() {
        int start = pos;
        boolean integral = true;
        if (peek() == '-') pos++;
        if (peek() == '0') {
            pos++;
            if (isDigit(peek())) throw error("leading zero in number");
        } else if (isDigit(peek())) {
            while (isDigit(peek())) pos++;
        } else {
            throw error("expected a digit");
        }
        if (peek() == '.') {
            integral = false;
            pos++;
            if (!isDigit(peek())) throw error("expected a digit after '.'");
            while (isDigit(peek())) pos++;
        }
        if (peek() == 'e' || peek() == 'E') {
            integral = false;
            pos++;
            if (peek() == '+' || peek() == '-') pos++;
            if (!isDigit(peek())) throw error("expected a digit in exponent");
            while (isDigit(peek())) pos++;
        }
        String text = s.substring(start, pos);
        if (integral) {
            try {
                return Long.parseLong(text);
            } catch (NumberFormatException tooBig) {
                // Integers beyond a long become doubles; callers that need an exact integer reject them by type.
                return Double.parseDouble(text);
            }
        }
        return Double.parseDouble(text);
    }

    private Object literal(String word, Object v) {
        if (!s.startsWith(word, pos)) throw error("unexpected '" + printable(s.charAt(pos)) + "', expected a value");
        pos += word.length();
        return v;
    }

    private void checkDepth(int depth) {
        if (depth > MAX_DEPTH) throw error("nesting deeper than " + MAX_DEPTH);
    }

    private void expect(char c) {
        if (peek() != c) throw error("expected '" + c + "'");
        pos++;
    }

    /** The current char, or NUL at the end (NUL is never valid outside strings, so it fails every check). */
    private char peek() {
        return pos < s.length() ? s.charAt(pos) : '\0';
    }

    private void skipWs() {
        while (pos < s.length()) {
            char c = s.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
            pos++;
        }
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    /** A key for a message: control characters as U+XXXX, at most 80 characters. */
    private String printableKey(String key) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < key.length() && b.length() < 80; i++) {
            char c = key.charAt(i);
            b.append(c >= 0x20 && c != 0x7f ? String.valueOf(c) : printable(c));
        }
        return key.length() > 80 ? b + "…" : b.toString();
    }

    private String printable(char c) {
        return c >= 0x20 && c < 0x7f ? String.valueOf(c) : String.format("U+%04X", (int) c);
    }

    private IllegalArgumentException error(String what) {
        String where = pos >= s.length() ? "end of input (offset " + pos + ")" : "offset " + pos;
        return new IllegalArgumentException("JSON error at " + where + ": " + what);
    }
}
