// Internal errors: thrown inside libpysr, turned into a pysr_status and pysr_last_error() at the C API
// edge (api.cpp). Nothing else is thrown on purpose; std::bad_alloc maps to PYSR_STATUS_OUT_OF_MEMORY.
#pragma once

#include <stdexcept>
#include <string>

#include "pysr.h"

namespace pysr {

struct Error : std::runtime_error {
    pysr_status status;
    Error(pysr_status s, const std::string &msg) : std::runtime_error(msg), status(s) {}
};

[[noreturn]] inline void fail(pysr_status s, const std::string &msg) { throw Error(s, msg); }
[[noreturn]] inline void fail_model(const std::string &msg) { throw Error(PYSR_STATUS_INVALID_MODEL, msg); }

}  // namespace pysr
