package dev.onestep.io.hub;

import dev.onestep.io.JsonFields;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which of a repository's files one-step inference needs: model_index.json, each component's config, the
 * scheduler config, the tokenizer's vocabulary and special tokens, and one weights file (or sharded index) per
 * network, chosen by the same variant rules as {@link dev.onestep.io.ModelFolder}: the requested variant, else
 * fp32, else fp16, else bf16. Feature extractors, .bin/.ckpt files and the other variants are skipped.
 */
final class FileSelection {
    private FileSelection() {}

    static final List<String> NETWORKS = List.of("unet", "vae", "text_encoder");
    private static final List<String> FALLBACKS = List.of("fp16", "bf16");

    /** The small files: configs, tokenizer files, and the shard indexes of the chosen weights. */
    static List<String> smallFiles(List<String> repoFiles, String variant) {
        Set<String> have = Set.copyOf(repoFiles);
        Set<String> out = new LinkedHashSet<>();
        addIf(have, out, "model_index.json");
        for (String c : NETWORKS) addIf(have, out, c + "/config.json");
        addIf(have, out, "scheduler/scheduler_config.json");
        if (!addIf(have, out, "tokenizer/vocab.json")) addIf(have, out, "tokenizer/tokenizer.json");
        addIf(have, out, "tokenizer/special_tokens_map.json");
        addIf(have, out, "tokenizer/tokenizer_config.json");
        for (String c : NETWORKS) {
            String w = weightsFile(have, c, variant);
            if (w != null && w.endsWith(".json")) out.add(w);
        }
        return new ArrayList<>(out);
    }

    /**
     * The weights files: single files as chosen, and for a sharded index every shard it names, read from the
     * downloaded index in {@code snapshot}.
     */
    static List<String> weightFiles(List<String> repoFiles, String variant, Path snapshot) {
        Set<String> have = Set.copyOf(repoFiles);
        Set<String> out = new LinkedHashSet<>();
        for (String c : NETWORKS) {
            String w = weightsFile(have, c, variant);
            if (w == null) continue;
            if (!w.endsWith(".json")) {
                out.add(w);
                continue;
            }
            Map<String, Object> index = JsonFields.readObject(snapshot.resolve(w));
            if (!(index.get("weight_map") instanceof Map<?, ?> map))
                throw new HubException(w + ": a sharded index without a weight_map");
            for (Object shard : new LinkedHashSet<>(map.values())) {
                // the index comes from the server too: a shard is a file name beside it, never a path elsewhere
                if (!(shard instanceof String name) || name.contains("/"))
                    throw new HubException(w + ": the sharded index names the shard '" + HubNames.printable(String.valueOf(shard))
                            + "', which is not a file name in " + c + "/");
                out.add(HubNames.repoPath(c + "/" + name, w));
            }
        }
        return new ArrayList<>(out);
    }

    /** The weights file or sharded index of a network by the variant rules, or null when the repo has none. */
    static String weightsFile(Set<String> have, String component, String variant) {
        String base = component + "/" + ("text_encoder".equals(component) ? "model" : "diffusion_pytorch_model");
        List<String> order = new ArrayList<>();
        if (variant != null) order.add(variant);
        order.add(null);
        for (String v : FALLBACKS) if (!v.equals(variant)) order.add(v);
        for (String v : order) {
            String dot = v == null ? "" : "." + v;
            for (String name : List.of(base + dot + ".safetensors", base + ".safetensors.index" + dot + ".json", base + dot + ".safetensors.index.json"))
                if (have.contains(name)) return name;
        }
        return null;
    }

    private static boolean addIf(Set<String> have, Set<String> out, String f) {
        if (!have.contains(f)) return false;
        out.add(f);
        return true;
    }
}
