package dev.onestep.model;

import dev.onestep.io.WeightSource;
import dev.onestep.io.WeightsException;
import dev.onestep.io.config.ClipTextConfig;
import dev.onestep.io.config.UNetConfig;
import dev.onestep.io.config.VaeConfig;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Checks a config's layer counts against the weights before a network is built: the number of
 * {@code down_blocks.i}, {@code resnets.j}, {@code attentions.j}, {@code transformer_blocks.k} and
 * {@code text_model.encoder.layers.j} the config implies must be the number the checkpoint holds. A config that
 * claims more (or fewer) layers than its weights is refused in one message naming each count, before anything is
 * allocated for it; {@link WeightResolver} then checks every tensor's name and shape.
 */
public final class LayerCounts {
    private LayerCounts() {}

    /** Module lists whose children are numbered: PREFIX.NAME.N.… */
    private static final Set<String> LISTS = Set.of("down_blocks", "up_blocks", "resnets", "attentions", "transformer_blocks", "layers");

    /** The UNet's down/up blocks, their resnets and attentions, and each attention's transformer blocks. */
    public static void checkUNet(UNetConfig c, WeightSource weights) {
        Expect e = new Expect(weights, "");
        int n = c.numBlocks();
        int[] layers = c.layersPerBlock(), t = c.transformerLayersPerBlock();
        e.count("down_blocks", n);
        e.count("up_blocks", n);
        for (int i = 0; i < n; i++) {
            boolean cross = c.downBlockTypes().get(i).equals("CrossAttnDownBlock2D");
            e.blocks("down_blocks." + i, layers[i], cross ? layers[i] : 0, t[i]);
            int r = n - 1 - i;
            boolean upCross = c.upBlockTypes().get(i).equals("CrossAttnUpBlock2D");
            e.blocks("up_blocks." + i, layers[r] + 1, upCross ? layers[r] + 1 : 0, t[r]);
        }
        e.blocks("mid_block", 2, 1, t[n - 1]);
        e.finish("UNet");
    }

    /** The VAE encoder's and decoder's blocks and their resnets. */
    public static void checkVae(VaeConfig c, WeightSource weights) {
        Expect e = new Expect(weights, "");
        int n = c.blockOutChannels().length;
        e.count("encoder.down_blocks", n);
        e.count("decoder.up_blocks", n);
        for (int i = 0; i < n; i++) {
            e.count("encoder.down_blocks." + i + ".resnets", c.layersPerBlock());
            e.count("decoder.up_blocks." + i + ".resnets", c.layersPerBlock() + 1);
        }
        e.finish("VAE");
    }

    /** The text encoder's layers. */
    public static void checkClip(ClipTextConfig c, WeightSource weights) {
        Expect e = new Expect(weights, "text_model.");
        e.count("encoder.layers", c.numHiddenLayers());
        e.finish("CLIP text encoder");
    }

    /** Expected counts of numbered children, compared with the distinct indices present in the weights. */
    private static final class Expect {
        private final WeightSource weights;
        private final String root;
        private final Map<String, Set<Integer>> present = new HashMap<>();
        private final List<String> problems = new ArrayList<>();

        Expect(WeightSource weights, String root) {
            this.weights = weights;
            this.root = root;
            for (String key : weights.keys()) {
                // every numbered level of the key: down_blocks.0.resnets.1.conv1.weight → (down_blocks, 0), (down_blocks.0.resnets, 1)
                String[] parts = key.split("\\.");
                StringBuilder prefix = new StringBuilder();
                for (int i = 0; i + 1 < parts.length; i++) {
                    if (i > 0) prefix.append('.');
                    prefix.append(parts[i]);
                    if (!LISTS.contains(parts[i]) || !parts[i + 1].matches("\\d{1,9}")) continue;
                    present.computeIfAbsent(prefix.toString(), k -> new TreeSet<>()).add(Integer.parseInt(parts[i + 1]));
                }
            }
        }

        /** resnets, attentions (0 = none) and, per attention, transformer blocks of one block. */
        void blocks(String block, int resnets, int attentions, int transformerBlocks) {
            count(block + ".resnets", resnets);
            count(block + ".attentions", attentions);
            for (int j = 0; j < Math.min(attentions, present(block + ".attentions")); j++)
                count(block + ".attentions." + j + ".transformer_blocks", transformerBlocks);
        }

        void count(String prefix, int expected) {
            int have = present(prefix);
            if (have != expected)
                problems.add(root + prefix + ": the config implies " + expected + ", the weights have " + have);
        }

        private int present(String prefix) {
            Set<Integer> s = present.get(root + prefix);
            return s == null ? 0 : s.size();
        }

        void finish(String what) {
            if (problems.isEmpty()) return;
            List<String> shown = problems.size() > 10 ? problems.subList(0, 10) : problems;
            throw new WeightsException(weights.description() + ": the " + what + " config does not match its weights' layer counts: "
                    + String.join("; ", shown) + (problems.size() > 10 ? "; and " + (problems.size() - 10) + " more" : ""));
        }
    }
}
