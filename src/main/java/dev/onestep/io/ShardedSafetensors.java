package dev.onestep.io;

import dev.onestep.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A checkpoint split over several .safetensors files, described by a {@code *.safetensors.index.json}:
 * {@code {"metadata": {...}, "weight_map": {tensor: "shard file name"}}}.
 *
 * <p>Each distinct shard is mapped once; the index and the shards are cross-checked at open (every mapped
 * tensor is in its shard, no tensor is in two shards), so a bad download fails here with a message naming
 * the shard rather than later with a missing weight. Shard names must be plain file names in the index's
 * folder: an index must not be able to point us at arbitrary files.
 */
public final class ShardedSafetensors implements WeightSource {
    private final Path index;
    private final Map<String, SafetensorsFile> byTensor; // sorted by tensor name
    private final List<SafetensorsFile> shards;
    private final Map<String, Object> metadata;

    private ShardedSafetensors(Path index, Map<String, SafetensorsFile> byTensor, List<SafetensorsFile> shards, Map<String, Object> metadata) {
        this.index = index;
        this.byTensor = byTensor;
        this.shards = shards;
        this.metadata = metadata;
    }

    /** Opens every shard named by the index and validates the set. The caller closes it. */
    public static ShardedSafetensors open(Path indexJson) {
        JsonFields idx = JsonFields.read(indexJson);
        JsonFields weightMap = idx.reqObject("weight_map");
        JsonFields meta = idx.optObject("metadata");
        Path dir = indexJson.toAbsolutePath().getParent();

        Map<String, SafetensorsFile> opened = new LinkedHashMap<>(); // shard name → file
        try {
            Map<String, SafetensorsFile> byTensor = new TreeMap<>();
            for (Map.Entry<String, Object> e : weightMap.map().entrySet()) {
                String tensor = e.getKey();
                if (!(e.getValue() instanceof String shard))
                    throw new WeightsException(indexJson + ": weight_map entry '" + tensor + "' should be a shard file name, got " + Json.describe(e.getValue()));
                checkShardName(indexJson, tensor, shard);
                SafetensorsFile f = opened.get(shard);
                if (f == null) {
                    Path p = dir.resolve(shard);
                    if (!Files.isRegularFile(p))
                        throw new WeightsException(indexJson + ": shard '" + shard + "' (holding '" + tensor + "') not found: " + p);
                    f = SafetensorsFile.open(p);
                    opened.put(shard, f);
                }
                byTensor.put(tensor, f);
            }
            checkConsistency(indexJson, byTensor, opened);
            List<SafetensorsFile> shards = List.copyOf(opened.values());
            Map<String, Object> md = meta == null ? Map.of() : meta.map();
            return new ShardedSafetensors(indexJson, Collections.unmodifiableMap(byTensor), shards, md);
        } catch (RuntimeException e) {
            for (SafetensorsFile f : opened.values()) f.close();
            throw e;
        }
    }

    private static void checkShardName(Path indexJson, String tensor, String shard) {
        boolean bad = shard.isEmpty() || shard.contains("/") || shard.contains("\\") || shard.equals(".") || shard.equals("..")
                || shard.contains("..") || shard.indexOf('\0') >= 0 || shard.contains(":");
        if (bad)
            throw new WeightsException(indexJson + ": weight_map entry '" + tensor + "' names shard '" + shard
                    + "'; shard names must be plain file names in the index's folder (no '/', '\\', '..' or ':')");
    }

    private static void checkConsistency(Path indexJson, Map<String, SafetensorsFile> byTensor, Map<String, SafetensorsFile> opened) {
        for (Map.Entry<String, SafetensorsFile> e : byTensor.entrySet())
            if (e.getValue().info(e.getKey()) == null)
                throw new WeightsException(indexJson + ": weight_map puts tensor '" + e.getKey() + "' in shard '"
                        + e.getValue().path().getFileName() + "', but that shard does not contain it");
        Map<String, String> seen = new LinkedHashMap<>();
        for (Map.Entry<String, SafetensorsFile> s : opened.entrySet())
            for (String name : s.getValue().keys()) {
                String other = seen.putIfAbsent(name, s.getKey());
                if (other != null)
                    throw new WeightsException(indexJson + ": tensor '" + name + "' is present in two shards, '" + other + "' and '" + s.getKey() + "'");
            }
    }

    /** The index's {@code metadata} object (e.g. total_size); empty when absent. */
    public Map<String, Object> metadata() { return metadata; }

    /** The opened shards, in first-use order. */
    public List<SafetensorsFile> shards() { return shards; }

    @Override
    public String description() { return index + " (" + shards.size() + " shards)"; }

    /** The tensors named by the weight_map (tensors a shard holds but the map omits are not exposed). */
    @Override
    public Set<String> keys() { return byTensor.keySet(); }

    @Override
    public TensorInfo info(String name) {
        SafetensorsFile f = byTensor.get(name);
        return f == null ? null : f.info(name);
    }

    @Override
    public Tensor tensor(String name) {
        SafetensorsFile f = byTensor.get(name);
        if (f == null) throw new WeightsException(index + ": no tensor '" + name + "' in weight_map");
        return f.tensor(name);
    }

    @Override
    public void close() {
        List<RuntimeException> errors = new ArrayList<>();
        for (SafetensorsFile f : shards) {
            try {
                f.close();
            } catch (RuntimeException e) {
                errors.add(e);
            }
        }
        if (!errors.isEmpty()) throw errors.getFirst();
    }
}
