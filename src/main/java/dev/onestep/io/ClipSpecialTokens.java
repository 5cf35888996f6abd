package dev.onestep.io;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The CLIP tokenizer's BOS/EOS ids, which is all the empty prompt needs: it tokenises (without padding) to
 * exactly [BOS, EOS]. Read from tokenizer/vocab.json or tokenizer/tokenizer.json when present; CLIP's
 * fixed ids (49406, 49407) otherwise. We never need the BPE merges, so no full tokenizer lives here.
 */
final class ClipSpecialTokens {
    private ClipSpecialTokens() {}

    static final String BOS = "<|startoftext|>";
    static final String EOS = "<|endoftext|>";
    /** CLIP's ids for BOS/EOS in its 49408-token vocabulary (the same in OpenAI CLIP and OpenCLIP-H). */
    static final int DEFAULT_BOS = 49406, DEFAULT_EOS = 49407;

    /** [bos, eos] for the tokenizer folder (which may be absent); {@code warn} receives fallbacks. */
    static int[] read(Path tokenizerDir, Consumer<String> warn) {
        if (!Files.isDirectory(tokenizerDir)) return new int[] {DEFAULT_BOS, DEFAULT_EOS};
        Path vocab = tokenizerDir.resolve("vocab.json");
        if (Files.isRegularFile(vocab)) {
            JsonFields v = JsonFields.read(vocab);
            return new int[] {vocabId(v, BOS), vocabId(v, EOS)};
        }
        Path tj = tokenizerDir.resolve("tokenizer.json");
        if (Files.isRegularFile(tj)) return fromTokenizerJson(JsonFields.read(tj));
        warn.accept(tokenizerDir + ": neither vocab.json nor tokenizer.json; using CLIP's BOS/EOS ids " + DEFAULT_BOS + ", " + DEFAULT_EOS);
        return new int[] {DEFAULT_BOS, DEFAULT_EOS};
    }

    private static int vocabId(JsonFields vocab, String token) {
        if (!vocab.has(token)) throw new WeightsException(vocab.source() + ": no '" + token + "' entry; not a CLIP vocabulary");
        return vocab.reqInt(token);
    }

    /** tokenizer.json: look in added_tokens [{id, content}], then in model.vocab. */
    private static int[] fromTokenizerJson(JsonFields tj) {
        Integer bos = null, eos = null;
        if (tj.raw("added_tokens") instanceof List<?> added) {
            for (Object o : added) {
                if (!(o instanceof Map<?, ?> m) || !(m.get("id") instanceof Long id)) continue;
                if (BOS.equals(m.get("content"))) bos = (int) (long) id;
                if (EOS.equals(m.get("content"))) eos = (int) (long) id;
            }
        }
        JsonFields model = tj.optObject("model");
        JsonFields vocab = model == null ? null : model.optObject("vocab");
        if (bos == null && vocab != null && vocab.has(BOS)) bos = vocab.reqInt(BOS);
        if (eos == null && vocab != null && vocab.has(EOS)) eos = vocab.reqInt(EOS);
        if (bos == null || eos == null)
            throw new WeightsException(tj.source() + ": no '" + (bos == null ? BOS : EOS) + "' in added_tokens or model.vocab; not a CLIP tokenizer");
        return new int[] {bos, eos};
    }
}
