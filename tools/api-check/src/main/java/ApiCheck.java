import dev.onestep.Colormap;
import dev.onestep.DepthMap;
import dev.onestep.NormalMap;
import dev.onestep.OneStep;
import dev.onestep.Recipe;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Usage: ApiCheck MODEL_DIR IMAGE... — loads MODEL_DIR on the CPU at processing resolution 96 in batches of 4, and
 * checks what the library promises: a list gives one map per image at its size, each the one its own call gives
 * (within 1e-4); normals for one image; a colour image of the map's size; the Marigold recipe's uncertainty for an
 * ensemble. Prints one line per check and exits 1 on the first that fails.
 */
public final class ApiCheck {
    public static void main(String[] args) throws Exception {
        if (args.length < 2) throw new IllegalArgumentException("usage: ApiCheck MODEL_DIR IMAGE...");
        OneStep.Options options = OneStep.Options.builder().device("cpu").dtype("fp32").processingRes(96).batchSize(4).build();
        List<BufferedImage> images = new ArrayList<>();
        for (int i = 1; i < args.length; i++) images.add(ImageIO.read(Path.of(args[i]).toFile()));
        try (OneStep model = OneStep.load(Path.of(args[0]), options)) {
            List<DepthMap> depths = model.predictDepth(images);
            check(depths.size() == images.size(), "one depth map per image: " + depths.size());
            for (int i = 0; i < images.size(); i++) {
                DepthMap d = depths.get(i);
                BufferedImage in = images.get(i);
                check(d.width() == in.getWidth() && d.height() == in.getHeight(), "image " + i + " map " + d.width() + "×" + d.height());
                check(d.data().length == d.width() * d.height(), "image " + i + " data length");
                double diff = maxDiff(model.predictDepth(in).data(), d.data());
                check(diff <= 1e-4, "image " + i + " batched = alone (max |diff| " + diff + ")");
                BufferedImage color = d.toImage(Colormap.SPECTRAL);
                check(color.getWidth() == d.width() && color.getHeight() == d.height(), "image " + i + " colour image size");
            }
            NormalMap n = model.predictNormals(images.get(0));
            check(n.data().length == 3 * n.width() * n.height(), "normals [3, H, W]");
            DepthMap ens = model.predictDepth(images.get(0), Recipe.marigold().steps(2).ensemble(3).seed(0));
            check(ens.uncertainty().isPresent() && ens.uncertainty().get().length == ens.width() * ens.height(), "ensemble uncertainty");
            check(model.predictDepth(images.get(0)).uncertainty().isEmpty(), "one-step: no uncertainty");
            System.out.println("api-check: all checks passed with " + images.size() + " image(s), OneStep " + OneStep.version());
        }
    }

    static double maxDiff(float[] a, float[] b) {
        if (a.length != b.length) return Double.POSITIVE_INFINITY;
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    static void check(boolean ok, String what) {
        System.out.println((ok ? "ok    " : "FAIL  ") + what);
        if (!ok) System.exit(1);
    }
}
