package dev.onestep.image;

/**
 * The few JPEG header facts ImageLoader needs, parsed by hand: the EXIF orientation (APP1 "Exif", TIFF header
 * in either byte order, IFD0 tag 0x0112), and applying an orientation to an image.
 */
final class Exif {
    private Exif() {}

    /** The EXIF orientation 1–8 of a JPEG, or 1 when absent or unreadable. */
    static int jpegOrientation(byte[] b) {
        int p = 2;   // after SOI
        while (p + 4 <= b.length) {
            if ((b[p] & 0xFF) != 0xFF) return 1;
            int marker = b[p + 1] & 0xFF;
            if (marker == 0xFF) { p++; continue; }   // fill byte
            if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) { p += 2; continue; }
            if (marker == 0xDA || marker == 0xD9) return 1;   // start of scan / end: no more headers
            int len = u16be(b, p + 2);
            if (len < 2 || p + 2 + len > b.length) return 1;
            if (marker == 0xE1 && len >= 8 && b[p + 4] == 'E' && b[p + 5] == 'x' && b[p + 6] == 'i' && b[p + 7] == 'f'
                    && b[p + 8] == 0 && b[p + 9] == 0) {
                int o = tiffOrientation(b, p + 10, p + 2 + len);
                if (o > 0) return o;
            }
            p += 2 + len;
        }
        return 1;
    }

    /** Orientation from a TIFF structure in b[start, end), or 0 if not found. */
    static int tiffOrientation(byte[] b, int start, int end) {
        if (end - start < 8) return 0;
        boolean le;
        if (b[start] == 'I' && b[start + 1] == 'I') le = true;
        else if (b[start] == 'M' && b[start + 1] == 'M') le = false;
        else return 0;
        if (u16(b, start + 2, le) != 42) return 0;
        long ifd = u32(b, start + 4, le);
        if (ifd < 8 || start + ifd + 2 > end) return 0;
        int q = (int) (start + ifd);
        int count = u16(b, q, le);
        for (int i = 0; i < count; i++) {
            int e = q + 2 + 12 * i;
            if (e + 12 > end) return 0;
            if (u16(b, e, le) == 0x0112) {
                int type = u16(b, e + 2, le);
                int v = type == 3 ? u16(b, e + 8, le) : type == 4 ? (int) u32(b, e + 8, le) : 0;
                return v >= 1 && v <= 8 ? v : 0;
            }
        }
        return 0;
    }

    /**
     * Applies EXIF orientation o to an image so that it displays upright (PIL's ImageOps.exif_transpose):
     * 2 mirror, 3 rotate 180°, 4 flip, 5 transpose, 6 rotate 90° clockwise, 7 transverse, 8 rotate 90° counter-clockwise.
     */
    static RgbImage apply(RgbImage img, int o) {
        if (o <= 1 || o > 8) return img;
        int w = img.width(), h = img.height();
        boolean swap = o >= 5;
        int ow = swap ? h : w, oh = swap ? w : h, n = w * h;
        byte[] src = img.planes(), dst = new byte[src.length];
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                int sx, sy;
                switch (o) {
                    case 2 -> { sx = w - 1 - x; sy = y; }
                    case 3 -> { sx = w - 1 - x; sy = h - 1 - y; }
                    case 4 -> { sx = x; sy = h - 1 - y; }
                    case 5 -> { sx = y; sy = x; }
                    case 6 -> { sx = y; sy = h - 1 - x; }
                    case 7 -> { sx = w - 1 - y; sy = h - 1 - x; }
                    default -> { sx = w - 1 - y; sy = x; }   // 8
                }
                int s = sy * w + sx, d = y * ow + x;
                for (int c = 0; c < 3; c++) dst[c * n + d] = src[c * n + s];
            }
        return new RgbImage(dst, ow, oh, img.name());
    }

    private static int u16be(byte[] b, int p) { return ((b[p] & 0xFF) << 8) | (b[p + 1] & 0xFF); }

    private static int u16(byte[] b, int p, boolean le) {
        return le ? (b[p] & 0xFF) | ((b[p + 1] & 0xFF) << 8) : u16be(b, p);
    }

    private static long u32(byte[] b, int p, boolean le) {
        long v = le ? (b[p] & 0xFFL) | ((b[p + 1] & 0xFFL) << 8) | ((b[p + 2] & 0xFFL) << 16) | ((b[p + 3] & 0xFFL) << 24)
                    : ((b[p] & 0xFFL) << 24) | ((b[p + 1] & 0xFFL) << 16) | ((b[p + 2] & 0xFFL) << 8) | (b[p + 3] & 0xFFL);
        return v;
    }
}
