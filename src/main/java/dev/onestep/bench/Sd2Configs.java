package dev.onestep.bench;

import dev.onestep.io.JsonFields;
import dev.onestep.io.config.UNetConfig;
import dev.onestep.io.config.VaeConfig;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;

/** The full-size SD2 configs (Marigold's 8-channel UNet, the SD VAE) shipped as resources under configs/sd2/. */
public final class Sd2Configs {
    private Sd2Configs() {}

    public static UNetConfig unet() {
        return UNetConfig.fromJson(json("configs/sd2/unet/config.json"), Path.of("configs/sd2/unet/config.json")).validate();
    }

    public static VaeConfig vae() {
        return VaeConfig.fromJson(json("configs/sd2/vae/config.json"), Path.of("configs/sd2/vae/config.json")).validate();
    }

    private static Map<String, Object> json(String resource) {
        try (InputStream in = Sd2Configs.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("resource " + resource + " missing from the build");
            return JsonFields.parseObject(in.readAllBytes(), resource);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
