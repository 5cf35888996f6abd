// The emulator's kernel table: every extern "C" __global__ entry point of kernels/*.cu, by name, with a trampoline
// that unpacks cuLaunchKernel's kernelParams (one pointer per argument, as the driver API passes them) into a
// call of the compiled C++ function. build.sh generates one EMU_REGISTER line per `.entry` of the module's PTX.
#pragma once
#include <cstddef>
#include <utility>
#include <type_traits>

namespace emu {

typedef void (*Trampoline)(void** args);

struct KernelInfo {
    const char* name;
    Trampoline entry;
    int arity;
};

void register_kernel(const char* name, Trampoline entry, int arity);
const KernelInfo* find_kernel(const char* name);

template <class... A, std::size_t... I>
inline void call_with(void (*f)(A...), void** args, std::index_sequence<I...>) {
    f(*static_cast<typename std::remove_reference<A>::type*>(args[I])...);
}

template <class... A>
inline void call_unpacked(void (*f)(A...), void** args) { call_with(f, args, std::index_sequence_for<A...>{}); }

template <class... A>
constexpr int arity_of(void (*)(A...)) { return sizeof...(A); }

template <auto F>
void trampoline(void** args) { call_unpacked(F, args); }

struct Registrar {
    Registrar(const char* name, Trampoline entry, int arity) { register_kernel(name, entry, arity); }
};

}  // namespace emu

#define EMU_REGISTER(name) static emu::Registrar emu_registrar_##name(#name, &emu::trampoline<&name>, emu::arity_of(&name));
