// Reads the JS ArchConfig object (src/config/arch.ts) into nq::ArchSpec, on the JS thread.
// Every missing or mistyped field is an INVALID_ARGUMENT error naming the field path.
#pragma once
#include <napi.h>

#include "core/arch.h"

namespace nq::addon {

ArchSpec archSpecFromJs(const Napi::Object& arch);

}  // namespace nq::addon
