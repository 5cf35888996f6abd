package dev.onestep.backend.cuda;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.lang.classfile.Attributes;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.FieldModel;
import java.lang.classfile.MethodModel;
import java.lang.classfile.constantpool.IntegerEntry;
import java.lang.constant.ClassDesc;
import java.lang.constant.ConstantDescs;
import java.lang.constant.MethodTypeDesc;
import java.lang.foreign.AddressLayout;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.SequenceLayout;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.AccessFlag;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Our hand-written cuBLAS/cuDNN binding against an independent machine reading of NVIDIA's headers: the JavaCPP presets
 * for CUDA 13.1 / cuDNN 9.19 (org.bytedeco:cuda, test scope), whose classes are generated from cublas_api.h,
 * library_types.h and cudnn_*.h. Their class files are only parsed (java.lang.classfile), never loaded: no native
 * library, no GPU. Checked: every enum value we pass, every bound function's argument count and C types
 * (int/enum → JAVA_INT, size_t → JAVA_LONG, double → JAVA_DOUBLE, any pointer/handle/descriptor → ADDRESS), the cuBLAS
 * status names we print, and the member order and types of cudnnConvolutionFwdAlgoPerf_t behind {@link Cudnn#PERF}.
 * A wrong value or argument here is exactly what the CUDA emulator cannot catch (it follows our own reading).
 */
class CudaBindingAbiTest {
    private static final String PRESETS = "org/bytedeco/cuda/";

    @Test
    void enumValuesMatchTheHeaders() throws IOException {
        Map<String, Integer> cublas = constants("global/cublas"), cudart = constants("global/cudart"), cudnn = constants("global/cudnn");
        assertEquals(13, cublas.get("CUBLAS_VER_MAJOR"), "presets built from cuBLAS 13 headers");
        assertEquals(9, cudnn.get("CUDNN_MAJOR"), "presets built from cuDNN 9 headers");
        List<String> wrong = new ArrayList<>();
        expect(wrong, cublas, "CUBLAS_OP_N", Cublas.OP_N);
        expect(wrong, cublas, "CUBLAS_OP_T", Cublas.OP_T);
        expect(wrong, cublas, "CUBLAS_COMPUTE_32F", Cublas.COMPUTE_32F);
        expect(wrong, cublas, "CUBLAS_COMPUTE_32F_FAST_TF32", Cublas.COMPUTE_32F_FAST_TF32);
        expect(wrong, cublas, "CUBLAS_GEMM_DEFAULT", Cublas.GEMM_DEFAULT);
        expect(wrong, cudart, "CUDA_R_32F", Cublas.CUDA_R_32F);
        expect(wrong, cudart, "CUDA_R_16F", Cublas.CUDA_R_16F);
        expect(wrong, cudart, "CUDA_R_16BF", Cublas.CUDA_R_16BF);
        expect(wrong, cudnn, "CUDNN_TENSOR_NHWC", Cudnn.FORMAT_NHWC);
        expect(wrong, cudnn, "CUDNN_DATA_FLOAT", Cudnn.DATA_FLOAT);
        expect(wrong, cudnn, "CUDNN_DATA_HALF", Cudnn.DATA_HALF);
        expect(wrong, cudnn, "CUDNN_DATA_BFLOAT16", Cudnn.DATA_BFLOAT16);
        expect(wrong, cudnn, "CUDNN_CROSS_CORRELATION", Cudnn.CROSS_CORRELATION);
        expect(wrong, cudnn, "CUDNN_DEFAULT_MATH", Cudnn.MATH_DEFAULT);
        expect(wrong, cudnn, "CUDNN_TENSOR_OP_MATH", Cudnn.MATH_TENSOR_OP);
        expect(wrong, cudnn, "CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION", Cudnn.MATH_TENSOR_OP_ALLOW_CONVERSION);
        expect(wrong, cudnn, "CUDNN_FMA_MATH", Cudnn.MATH_FMA);
        expect(wrong, cudnn, "CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM", Cudnn.ALGO_IMPLICIT_PRECOMP_GEMM);
        expect(wrong, cudnn, "CUDNN_ACTIVATION_IDENTITY", Cudnn.ACTIVATION_IDENTITY);
        expect(wrong, cudnn, "CUDNN_NOT_PROPAGATE_NAN", Cudnn.NOT_PROPAGATE_NAN);
        expect(wrong, cudnn, "CUDNN_STATUS_SUCCESS", 0); // check() treats 0 as success
        assertTrue(wrong.isEmpty(), "constants that differ from the headers: " + wrong);
    }

    @Test
    void cublasStatusNamesMatchTheHeaders() throws IOException {
        Map<String, Integer> cublas = constants("global/cublas");
        int named = 0;
        for (int status = 0; status < 64; status++) {
            String name = Cublas.statusName(status);
            if (name.startsWith("CUBLAS_STATUS_UNKNOWN")) continue;
            named++;
            assertEquals(status, cublas.get(name), name + " in Cublas.statusName");
        }
        long inHeaders = cublas.keySet().stream().filter(k -> k.startsWith("CUBLAS_STATUS_")).count();
        assertEquals(inHeaders, named, "every cublasStatus_t value has a name in Cublas.statusName");
    }

    @Test
    void cublasSignaturesMatchTheHeaders() throws IOException {
        checkSignatures(Cublas.SIGNATURES, "global/cublas");
    }

    @Test
    void cudnnSignaturesMatchTheHeaders() throws IOException {
        checkSignatures(Cudnn.SIGNATURES, "global/cudnn");
    }

    /** cudnnConvolutionFwdAlgoPerf_t: the presets' accessors in declaration order give the members and their C types. */
    @Test
    void algoPerfStructMatchesTheHeader() throws IOException {
        ClassModel perf = classModel("cudnn/cudnnConvolutionFwdAlgoPerf_t");
        List<String> members = new ArrayList<>();
        for (MethodModel m : perf.methods()) {
            MethodTypeDesc d = m.methodTypeSymbol();
            // getters: no argument (scalar) or one int index (array member: `reserved(int i)`)
            boolean getter = m.flags().has(AccessFlag.NATIVE) && !m.flags().has(AccessFlag.STATIC)
                    && d.returnType().isPrimitive() && !d.returnType().equals(ConstantDescs.CD_void)
                    && (d.parameterCount() == 0 || (d.parameterCount() == 1 && d.parameterType(0).equals(ConstantDescs.CD_int)));
            String name = m.methodName().stringValue();
            String member = name + ":" + code(d.returnType()) + (d.parameterCount() == 1 ? "[]" : "");
            if (getter && !members.contains(member)) members.add(member);
        }
        List<String> ours = new ArrayList<>();
        for (MemoryLayout e : Cudnn.PERF.memberLayouts()) {
            if (e instanceof PaddingLayout) continue;
            String name = e.name().orElseThrow();
            ours.add(e instanceof SequenceLayout s ? name + ":" + code(s.elementLayout()) + "[]" : name + ":" + code(e));
        }
        assertEquals(members, ours, "cudnnConvolutionFwdAlgoPerf_t members (name:type in order)");
        assertEquals(48, Cudnn.PERF.byteSize(), "sizeof(cudnnConvolutionFwdAlgoPerf_t) on LP64");
        assertEquals(28, Cudnn.PERF.byteOffset(MemoryLayout.PathElement.groupElement("mathType")), "offset read as the math type");
    }

    // ---------------------------------------------------------------- helpers

    private static void checkSignatures(Map<String, FunctionDescriptor> ours, String presetsClass) throws IOException {
        Map<String, Set<String>> declared = new HashMap<>();
        for (MethodModel m : classModel(presetsClass).methods()) {
            if (!m.flags().has(AccessFlag.NATIVE) || !m.flags().has(AccessFlag.STATIC)) continue;
            MethodTypeDesc d = m.methodTypeSymbol();
            StringBuilder sig = new StringBuilder(code(d.returnType())).append('(');
            for (ClassDesc p : d.parameterList()) sig.append(code(p));
            declared.computeIfAbsent(m.methodName().stringValue(), k -> new TreeSet<>()).add(sig.append(')').toString());
        }
        List<String> wrong = new ArrayList<>();
        for (Map.Entry<String, FunctionDescriptor> e : ours.entrySet()) {
            String sig = code(e.getValue());
            Set<String> theirs = declared.get(e.getKey());
            if (theirs == null) wrong.add(e.getKey() + ": not declared in the headers");
            else if (!theirs.contains(sig)) wrong.add(e.getKey() + ": ours " + sig + ", headers " + theirs);
        }
        assertTrue(wrong.isEmpty(), "bindings that differ from the headers:\n  " + String.join("\n  ", wrong));
    }

    /** "I(AIJ)" for a descriptor returning int taking (pointer, int, size_t). */
    private static String code(FunctionDescriptor fd) {
        StringBuilder s = new StringBuilder(fd.returnLayout().map(CudaBindingAbiTest::code).orElse("V")).append('(');
        for (MemoryLayout l : fd.argumentLayouts()) s.append(code(l));
        return s.append(')').toString();
    }

    private static String code(MemoryLayout l) {
        if (l instanceof AddressLayout) return "A";
        if (l instanceof ValueLayout.OfInt) return "I";
        if (l instanceof ValueLayout.OfLong) return "J";
        if (l instanceof ValueLayout.OfFloat) return "F";
        if (l instanceof ValueLayout.OfDouble) return "D";
        if (l instanceof GroupLayout) return "S";
        throw new IllegalArgumentException("unexpected layout in a binding: " + l);
    }

    /**
     * JavaCPP's Java types for C types: a primitive as its descriptor letter (I, J, F, D, V: the same letters as our
     * layouts), every Pointer subclass/String/array = a C pointer.
     */
    private static String code(ClassDesc c) {
        return c.isPrimitive() ? c.descriptorString() : "A";
    }

    private static void expect(List<String> wrong, Map<String, Integer> constants, String name, int ours) {
        Integer theirs = constants.get(name);
        if (theirs == null || theirs != ours) wrong.add(name + ": ours " + ours + ", headers " + theirs);
    }

    /** static final int constants of a presets class (their ConstantValue attributes). */
    private static Map<String, Integer> constants(String presetsClass) throws IOException {
        Map<String, Integer> out = new HashMap<>();
        for (FieldModel f : classModel(presetsClass).fields()) {
            f.findAttribute(Attributes.constantValue()).ifPresent(cv -> {
                if (cv.constant() instanceof IntegerEntry i) out.put(f.fieldName().stringValue(), i.intValue());
            });
        }
        return out;
    }

    private static ClassModel classModel(String presetsClass) throws IOException {
        String resource = PRESETS + presetsClass + ".class";
        try (InputStream in = CudaBindingAbiTest.class.getClassLoader().getResourceAsStream(resource)) {
            assertNotNull(in, resource + " not on the test classpath (org.bytedeco:cuda, test scope in pom.xml)");
            return ClassFile.of().parse(in.readAllBytes());
        }
    }
}
