package dev.onestep.testutil;

import dev.onestep.io.Json;
import dev.onestep.io.SafetensorsFile;
import dev.onestep.io.TensorInfo;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A writable copy of the tiny fixture model (fp32 weights only) for tests that corrupt a checkpoint: a config value
 * changed, one weight set to NaN or Inf.
 */
public final class ModelCopy {
    private final Path dir;

    private ModelCopy(Path dir) { this.dir = dir; }

    /** Copies tiny-sd2 into {@code parent}/model. */
    public static ModelCopy of(Path parent) throws IOException {
        Path src = Fixtures.model(), dst = parent.resolve("model");
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : s.toList()) {
                String name = p.getFileName().toString();
                if (name.contains(".fp16.") || name.contains(".bf16.")) continue;
                Path to = dst.resolve(src.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(to);
                else Files.copy(p, to);
            }
        }
        return new ModelCopy(dst);
    }

    public Path dir() { return dir; }

    /** component/config.json (scheduler/scheduler_config.json) with {@code key} set to {@code value} (a JSON literal). */
    @SuppressWarnings("unchecked")
    public ModelCopy config(String component, String key, String value) throws IOException {
        Path f = dir.resolve(component).resolve(component.equals("scheduler") ? "scheduler_config.json" : "config.json");
        Map<String, Object> json = Json.parseObject(Files.readString(f));
        json.put(key, new Raw(value));
        Files.writeString(f, write(json));
        return this;
    }

    /** Sets the first value of an F32 tensor of a component's weights. */
    public ModelCopy poison(String component, String tensor, float value) throws IOException {
        Path f = weights(component);
        long offset;
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            TensorInfo t = st.info(tensor);
            if (t == null || !t.dtype().name().equals("F32")) throw new IllegalArgumentException(tensor + " is not an F32 tensor of " + f);
            offset = t.offset();
        }
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.seek(offset);
            raf.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(value).array());
        }
        return this;
    }

    /** The fp32 weights file of a component. */
    public Path weights(String component) {
        return dir.resolve(component).resolve(component.equals("text_encoder") ? "model.safetensors" : "diffusion_pytorch_model.safetensors");
    }

    private record Raw(String json) {}

    private static String write(Object v) {
        if (v instanceof Raw r) return r.json();
        if (v == null) return "null";
        if (v instanceof String s) return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
        if (v instanceof Map<?, ?> m) {
            StringBuilder sb = new StringBuilder("{");
            for (Map.Entry<?, ?> e : m.entrySet()) sb.append(sb.length() > 1 ? ", " : "").append(write(e.getKey())).append(": ").append(write(e.getValue()));
            return sb.append('}').toString();
        }
        if (v instanceof List<?> l) {
            StringBuilder sb = new StringBuilder("[");
            for (Object o : l) sb.append(sb.length() > 1 ? ", " : "").append(write(o));
            return sb.append(']').toString();
        }
        return String.valueOf(v); // Long, Double, Boolean
    }
}
