// The execution engine's entry point for the fake driver (fake_cuda.cpp).
#pragma once
#include <cstddef>
#include <string>
#include <vector_types.h>
#include "registry.h"

namespace emu {

struct LaunchSpec {
    Trampoline entry;
    void** args;
    uint3 grid, block;
    size_t sharedBytes;
};

// Runs every block of the launch to completion (blocks in parallel). False, with a description, when a block
// failed (deadlock, a bad warp mask, ...).
bool launch(const LaunchSpec& spec, std::string& error);

}  // namespace emu
