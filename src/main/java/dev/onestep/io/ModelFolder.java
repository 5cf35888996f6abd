package dev.onestep.io;

import dev.onestep.io.config.ClipTextConfig;
import dev.onestep.io.config.ModelIndex;
import dev.onestep.io.config.SchedulerConfig;
import dev.onestep.io.config.UNetConfig;
import dev.onestep.io.config.VaeConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * A diffusers pipeline folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/):
 * finds each component's config and weights file, honouring a weights variant ("fp16", "bf16").
 *
 * <p>Configs are read lazily and validated on first use. Variant rules, as diffusers' {@code variant=}
 * plus two conveniences: a requested variant that is absent falls back to the fp32 file (then to the
 * other variant) with a warning in {@link #warnings()}; with no variant requested and no fp32 file, the
 * fp16 (then bf16) file is used, also noted. A folder without model_index.json is accepted when it has
 * unet/ or vae/, since people copy component folders around.
 */
public final class ModelFolder {
    public static final String UNET = "unet", VAE = "vae", TEXT_ENCODER = "text_encoder",
            SCHEDULER = "scheduler", TOKENIZER = "tokenizer";
    /** Variants tried, in order, when the requested one (or fp32) is absent. */
    private static final List<String> FALLBACK_VARIANTS = List.of("fp16", "bf16");

    private final Path dir;
    private final String variant;
    private final ModelIndex index;
    private final Set<String> warnings = new LinkedHashSet<>();
    private UNetConfig unet;
    private VaeConfig vae;
    private ClipTextConfig textEncoder;
    private SchedulerConfig scheduler;

    private ModelFolder(Path dir, String variant, ModelIndex index) {
        this.dir = dir;
        this.variant = variant;
        this.index = index;
    }

    /**
     * Opens a model folder; reads only model_index.json (if any) now.
     *
     * @param variant null for the default (fp32) weights, or a variant name such as "fp16" or "bf16"
     */
    public static ModelFolder open(Path dir, String variant) {
        if (variant != null && variant.isEmpty()) variant = null;
        if (variant != null && !variant.matches("[A-Za-z0-9_-]+"))
            throw new WeightsException("invalid weights variant '" + variant + "' (expected a name such as fp16 or bf16)");
        if (!Files.exists(dir)) throw new WeightsException(dir + ": model folder does not exist");
        if (!Files.isDirectory(dir)) throw new WeightsException(dir + ": not a folder (expected a diffusers model folder)");
        Path mi = dir.resolve("model_index.json");
        boolean hasIndex = Files.isRegularFile(mi);
        if (!hasIndex && !Files.isDirectory(dir.resolve(UNET)) && !Files.isDirectory(dir.resolve(VAE)))
            throw new WeightsException("not a diffusers model folder: no model_index.json, unet/ or vae/ in " + dir);
        return new ModelFolder(dir, variant, hasIndex ? ModelIndex.load(mi) : null);
    }

    public Path dir() { return dir; }

    /** The requested variant, or null. */
    public String variant() { return variant; }

    /** model_index.json, or null when the folder has none. */
    public ModelIndex index() { return index; }

    /** Fallbacks taken so far (variant substitutions, default token ids), in order, without duplicates. */
    public synchronized List<String> warnings() { return List.copyOf(warnings); }

    public synchronized UNetConfig unet() {
        if (unet == null) unet = UNetConfig.load(configPath(UNET));
        return unet;
    }

    public synchronized VaeConfig vae() {
        if (vae == null) vae = VaeConfig.load(configPath(VAE));
        return vae;
    }

    public synchronized ClipTextConfig textEncoder() {
        if (textEncoder == null) textEncoder = ClipTextConfig.load(configPath(TEXT_ENCODER));
        return textEncoder;
    }

    public synchronized SchedulerConfig scheduler() {
        if (scheduler == null) scheduler = SchedulerConfig.load(configPath(SCHEDULER));
        return scheduler;
    }

    /** component/config.json (scheduler/scheduler_config.json), checked to exist. */
    public Path configPath(String component) {
        Path cdir = componentDir(component);
        Path cfg = cdir.resolve(SCHEDULER.equals(component) ? "scheduler_config.json" : "config.json");
        if (!Files.isRegularFile(cfg)) throw new WeightsException(cdir + ": missing " + cfg.getFileName());
        return cfg;
    }

    private Path componentDir(String component) {
        Path cdir = dir.resolve(component);
        if (!Files.isDirectory(cdir)) {
            String listed = index != null && index.has(component) ? " (model_index.json lists it as " + index.classOf(component) + ")" : "";
            throw new WeightsException(dir + ": no " + component + "/ folder" + listed);
        }
        return cdir;
    }

    /**
     * The weights file for a component according to the variant rules: {@code unet}/{@code vae} →
     * diffusion_pytorch_model[.variant].safetensors, {@code text_encoder} → model[.variant].safetensors, or the
     * sharded index (*.safetensors.index[.variant].json or *[.variant].safetensors.index.json).
     */
    public synchronized Path weightsPath(String component) {
        Path cdir = componentDir(component);
        String base = TEXT_ENCODER.equals(component) ? "model" : "diffusion_pytorch_model";
        Path fp32 = find(cdir, base, null);
        if (variant != null) {
            Path v = find(cdir, base, variant);
            if (v != null) return v;
            String want = base + "." + variant + ".safetensors";
            if (fp32 != null) {
                warnings.add(component + ": no " + variant + " weights (" + want + ") in " + cdir + "; using " + fp32.getFileName());
                return fp32;
            }
            for (String other : FALLBACK_VARIANTS) {
                Path o = other.equals(variant) ? null : find(cdir, base, other);
                if (o != null) {
                    warnings.add(component + ": no " + variant + " weights (" + want + ") in " + cdir + "; using " + o.getFileName());
                    return o;
                }
            }
        } else {
            if (fp32 != null) return fp32;
            for (String other : FALLBACK_VARIANTS) {
                Path o = find(cdir, base, other);
                if (o != null) {
                    warnings.add(component + ": no fp32 weights (" + base + ".safetensors) in " + cdir + "; using the " + other + " variant " + o.getFileName());
                    return o;
                }
            }
        }
        throw new WeightsException(cdir + ": no weights found: expected " + base + (variant != null ? "." + variant : "")
                + ".safetensors (or fp32/" + String.join("/", FALLBACK_VARIANTS) + " variants, or a sharded " + base
                + ".safetensors.index.json)" + pickleHint(cdir));
    }

    /** The single file or the sharded index for one variant (null = fp32), or null when neither exists. */
    private static Path find(Path cdir, String base, String v) {
        String dot = v == null ? "" : "." + v;
        for (String name : List.of(base + dot + ".safetensors", base + ".safetensors.index" + dot + ".json", base + dot + ".safetensors.index.json")) {
            Path p = cdir.resolve(name);
            if (Files.exists(p) && !Files.isDirectory(p)) return p; // a FIFO or device is then refused by name when opened
        }
        return null;
    }

    private static String pickleHint(Path cdir) {
        try (Stream<Path> s = Files.list(cdir)) {
            boolean bin = s.anyMatch(p -> p.getFileName().toString().endsWith(".bin") || p.getFileName().toString().endsWith(".ckpt"));
            return bin ? "; only PyTorch .bin/.ckpt files are present, convert them to safetensors" : "";
        } catch (IOException e) {
            return "";
        }
    }

    /** Opens the component's weights (single file or sharded). The caller closes the source. */
    public WeightSource openWeights(String component) {
        return Weights.openAny(weightsPath(component));
    }

    /** Token ids of the empty prompt without padding: [BOS, EOS] (49406, 49407 for CLIP). */
    public int[] emptyPromptTokenIds() {
        Path tok = dir.resolve(TOKENIZER);
        return ClipSpecialTokens.read(tok, w -> {
            synchronized (this) {
                warnings.add(w);
            }
        });
    }

    /** A multi-line summary for the {@code info} command; problems are shown inline rather than thrown. */
    public String describe() {
        List<String> lines = new ArrayList<>();
        lines.add("model folder: " + dir.toAbsolutePath());
        lines.add("pipeline: " + (index == null ? "(no model_index.json)" : index.className()));
        lines.add("variant: " + (variant == null ? "default (fp32)" : variant));
        lines.add(line(UNET, () -> {
            UNetConfig c = UNetConfig.fromJson(JsonFields.read(configPath(UNET)).map(), configPath(UNET));
            return "in " + c.inChannels() + ", out " + c.outChannels() + ", channels " + java.util.Arrays.toString(c.blockOutChannels())
                    + ", heads " + java.util.Arrays.toString(c.headsPerBlock()) + ", cross-attention " + c.crossAttentionDim()
                    + supported(c::validate);
        }));
        lines.add(line(VAE, () -> {
            VaeConfig c = VaeConfig.fromJson(JsonFields.read(configPath(VAE)).map(), configPath(VAE));
            return "latent " + c.latentChannels() + ", channels " + java.util.Arrays.toString(c.blockOutChannels())
                    + ", scaling " + c.scalingFactor() + supported(c::validate);
        }));
        lines.add(line(TEXT_ENCODER, () -> {
            ClipTextConfig c = ClipTextConfig.fromJson(JsonFields.read(configPath(TEXT_ENCODER)).map(), configPath(TEXT_ENCODER));
            return "hidden " + c.hiddenSize() + ", layers " + c.numHiddenLayers() + ", heads " + c.numAttentionHeads()
                    + ", act " + c.hiddenAct() + supported(c::validate);
        }));
        lines.add(line(SCHEDULER, () -> {
            SchedulerConfig c = SchedulerConfig.fromJson(JsonFields.read(configPath(SCHEDULER)).map(), configPath(SCHEDULER));
            return c.className() + ", " + c.betaSchedule() + " " + c.betaStart() + ".." + c.betaEnd() + ", " + c.predictionType()
                    + ", spacing " + c.timestepSpacing() + ", steps_offset " + c.stepsOffset() + supported(c::validate);
        }));
        lines.add(line(TOKENIZER, () -> {
            int[] ids = emptyPromptTokenIds();
            return (Files.isDirectory(dir.resolve(TOKENIZER)) ? "" : "absent; ") + "empty prompt = [" + ids[0] + ", " + ids[1] + "]";
        }));
        for (String w : warnings()) lines.add("warning: " + w);
        return String.join("\n", lines);
    }

    private String line(String component, Supplier<String> body) {
        String weights = "";
        if (!SCHEDULER.equals(component) && !TOKENIZER.equals(component)) {
            try {
                Path w = weightsPath(component);
                weights = "; weights " + w.getFileName() + " (" + String.format("%.1f MB", Files.size(w) / 1e6) + ")";
            } catch (WeightsException | IOException e) {
                weights = "; weights: " + e.getMessage();
            }
        }
        try {
            return component + ": " + body.get() + weights;
        } catch (WeightsException e) {
            return component + ": ERROR " + e.getMessage();
        }
    }

    private static String supported(Runnable validate) {
        try {
            validate.run();
            return "";
        } catch (WeightsException e) {
            return " [UNSUPPORTED: " + e.getMessage() + "]";
        }
    }
}
