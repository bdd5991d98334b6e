// Reads the JS ArchConfig object (src/config/arch.ts) into nq::ArchSpec, on the JS thread, and
// writes one back (exports.parseArch, for the boundary test). Every missing, mistyped or
// unknown field is an INVALID_ARGUMENT error naming the field path.
#pragma once
#include <napi.h>

#include "core/arch.h"

namespace nq::addon {

ArchSpec archSpecFromJs(const Napi::Object& arch);
Napi::Object archSpecToJs(Napi::Env env, const ArchSpec& arch);

}  // namespace nq::addon
