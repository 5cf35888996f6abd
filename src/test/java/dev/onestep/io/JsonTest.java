package dev.onestep.io;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The strict JSON parser: value mapping, escapes, numbers, and every rejection naming its offset. */
class JsonTest {

    private static void rejects(String text, String messagePart) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.parse(text), text);
        assertTrue(e.getMessage().contains(messagePart), () -> "message '" + e.getMessage() + "' lacks '" + messagePart + "'");
    }

    @Test
    void mapsValues() {
        Map<String, Object> m = Json.parseObject(" {\"a\": [1, -2, 3.5, 1e3, true, false, null], \"b\": {\"c\": \"d\"}, \"n\": null} ");
        assertEquals(List.of("a", "b", "n"), List.copyOf(m.keySet()), "key order kept");
        List<?> a = (List<?>) m.get("a");
        assertEquals(1L, a.get(0));
        assertEquals(-2L, a.get(1));
        assertEquals(3.5, a.get(2));
        assertEquals(1000.0, a.get(3));
        assertEquals(Boolean.TRUE, a.get(4));
        assertEquals(Boolean.FALSE, a.get(5));
        assertNull(a.get(6));
        assertTrue(m.containsKey("n"));
        assertNull(m.get("n"));
        assertEquals(Map.of("c", "d"), m.get("b"));
    }

    @Test
    void numbers() {
        assertEquals(0L, Json.parse("0"));
        assertEquals(0L, Json.parse("-0"));
        assertEquals(Long.MAX_VALUE, Json.parse("9223372036854775807"));
        assertEquals(Long.MIN_VALUE, Json.parse("-9223372036854775808"));
        assertInstanceOf(Double.class, Json.parse("9223372036854775808"), "too big for a long → Double");
        assertEquals(1e-5, Json.parse("1e-05"));
        assertEquals(0.18215, Json.parse("0.18215"));
        assertEquals(2.0, Json.parse("2.0"), "a fraction makes it a Double even when integral");
        assertEquals(-1.5E10, Json.parse("-1.5E+10"));
        rejects("01", "leading zero");
        rejects("1.", "digit after '.'");
        rejects(".5", "expected a value");
        rejects("1e", "exponent");
        rejects("+1", "expected a value");
        rejects("-", "expected a digit");
        rejects("NaN", "expected a value");
        rejects("Infinity", "expected a value");
    }

    @Test
    void stringsAndEscapes() {
        assertEquals("a\"b\\c/d\b\f\n\r\t", Json.parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\""));
        assertEquals("é€", Json.parse("\"\\u00e9\\u20AC\""));
        assertEquals("😀", Json.parse("\"\\ud83d\\ude00\""), "surrogate pair");
        assertEquals("<|startoftext|>ü日本", Json.parse("\"<|startoftext|>ü日本\""), "raw non-ASCII");
        assertEquals("", Json.parse("\"\""));
        rejects("\"abc", "unterminated string");
        rejects("\"a\\x\"", "invalid escape");
        rejects("\"\\u12G4\"", "hex digit");
        rejects("\"\\u12\"", "truncated");
        rejects("\"a\nb\"", "control character");
        rejects("'a'", "expected a value");
    }

    @Test
    void structureErrorsNameTheOffset() {
        rejects("", "end of input");
        rejects("   ", "end of input");
        rejects("{\"a\":1,}", "expected a string key");
        rejects("[1,]", "expected a value");
        rejects("[1 2]", "expected ',' or ']'");
        rejects("{\"a\" 1}", "expected ':'");
        rejects("{\"a\":1 \"b\":2}", "offset 7");
        rejects("{a:1}", "expected a string key");
        rejects("[1] x", "after the JSON value");
        rejects("{} {}", "offset 3");
        rejects("nul", "expected a value");
        rejects("truex", "after the JSON value");
        rejects("[1] // comment", "after the JSON value");
        rejects("{\"a\":1,\"a\":2}", "duplicate key \"a\"");
        rejects("[", "end of input");
    }

    @Test
    void depthIsCapped() {
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        assertInstanceOf(List.class, Json.parse(ok));
        rejects("[".repeat(Json.MAX_DEPTH + 1) + "]".repeat(Json.MAX_DEPTH + 1), "nesting deeper than " + Json.MAX_DEPTH);
        // A hostile header must not overflow the stack.
        rejects("[".repeat(1_000_000), "nesting deeper");
        rejects("{\"a\":".repeat(100) + "1" + "}".repeat(100), "nesting deeper");
    }

    @Test
    void whitespaceAndBom() {
        assertEquals(List.of(1L), Json.parse("\uFEFF\t\r\n [ 1 ]\n"));
        rejects("\u00a0[1]", "expected a value"); // non-breaking space is not JSON whitespace
    }

    @Test
    void parseObjectRequiresAnObject() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.parseObject("[1]"));
        assertTrue(e.getMessage().contains("expected a JSON object"), e.getMessage());
    }
}
