package dev.onestep.eval;

import java.util.Locale;

/**
 * Per-dataset evaluation settings of Marigold's protocol (its {@code config/dataset/*.yaml} and dataset classes):
 * valid depth range (GT strictly inside (min, max)), crops and masks, and the resolution cap of the
 * least-squares alignment (ETH3D: 1024 px).
 *
 * <ul>
 *   <li>NYUv2: 1e-3–10 m, Eigen crop rows 45:471, cols 41:601 (of 480×640).</li>
 *   <li>KITTI: 1e-5–80 m; the image and GT are first cut to the 352×1216 benchmark crop (bottom rows,
 *       horizontally centred), then the Eigen mask rows [0.3324324·H, 0.91351351·H), cols [0.0359477·W, 0.96405229·W).</li>
 *   <li>ETH3D: 1e-5–∞, alignment solved at ≤ 1024 px.</li>
 *   <li>ScanNet: 1e-3–10 m.</li>
 *   <li>DIODE: 0.6–350 m with the dataset's own validity mask (DIR/mask).</li>
 *   <li>generic: 1e-5–∞ unless overridden.</li>
 * </ul>
 */
public enum DatasetKind {
    NYUV2(1e-3, 10, 0),
    KITTI(1e-5, 80, 0),
    ETH3D(1e-5, Double.POSITIVE_INFINITY, 1024),
    SCANNET(1e-3, 10, 0),
    DIODE(0.6, 350, 0),
    GENERIC(1e-5, Double.POSITIVE_INFINITY, 0);

    /** KITTI benchmark crop size (kb_crop). */
    public static final int KB_CROP_HEIGHT = 352, KB_CROP_WIDTH = 1216;
    /** NYUv2 Eigen crop: rows [45, 471), cols [41, 601). */
    static final int NYU_TOP = 45, NYU_BOTTOM = 471, NYU_LEFT = 41, NYU_RIGHT = 601;
    /** KITTI Eigen mask as fractions of the (cropped) GT size. */
    static final double KITTI_EIGEN_TOP = 0.3324324, KITTI_EIGEN_BOTTOM = 0.91351351,
            KITTI_EIGEN_LEFT = 0.0359477, KITTI_EIGEN_RIGHT = 0.96405229;

    public final double minDepth, maxDepth;
    /** Max resolution of the least-squares alignment, 0 = full resolution. */
    public final int alignMaxRes;

    DatasetKind(double minDepth, double maxDepth, int alignMaxRes) {
        this.minDepth = minDepth;
        this.maxDepth = maxDepth;
        this.alignMaxRes = alignMaxRes;
    }

    public static DatasetKind parse(String s) {
        try {
            return valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown dataset kind '" + s + "' (nyuv2, kitti, eth3d, scannet, diode, generic)");
        }
    }

    public String label() { return name().toLowerCase(Locale.ROOT); }

    /** Whether images and GT are cut to the KITTI benchmark crop before anything else. */
    public boolean benchmarkCrop() { return this == KITTI; }

    /** The benchmark crop window {top, left} of an image of h × w (KITTI kb_crop: bottom rows, centred). */
    public static int[] benchmarkCropOrigin(int h, int w) {
        if (h < KB_CROP_HEIGHT || w < KB_CROP_WIDTH)
            throw new IllegalArgumentException(w + "×" + h + " is smaller than the KITTI benchmark crop " + KB_CROP_WIDTH + "×" + KB_CROP_HEIGHT);
        return new int[] {h - KB_CROP_HEIGHT, (w - KB_CROP_WIDTH) / 2};
    }

    /**
     * The evaluation mask [h·w]: GT strictly inside (min, max) of the given range, AND the dataset's crop mask,
     * AND {@code extra} (the dataset's own mask file) when non-null.
     */
    public boolean[] validMask(float[] gt, int h, int w, double min, double max, boolean[] extra) {
        boolean[] m = new boolean[h * w];
        int top = 0, bottom = h, left = 0, right = w;
        if (this == NYUV2) {
            top = Math.min(NYU_TOP, h); bottom = Math.min(NYU_BOTTOM, h);
            left = Math.min(NYU_LEFT, w); right = Math.min(NYU_RIGHT, w);
        } else if (this == KITTI) {
            top = (int) (KITTI_EIGEN_TOP * h); bottom = (int) (KITTI_EIGEN_BOTTOM * h);
            left = (int) (KITTI_EIGEN_LEFT * w); right = (int) (KITTI_EIGEN_RIGHT * w);
        }
        for (int y = top; y < bottom; y++)
            for (int x = left; x < right; x++) {
                int i = y * w + x;
                m[i] = gt[i] > min && gt[i] < max && (extra == null || extra[i]);
            }
        return m;
    }
}
