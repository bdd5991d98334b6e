// Each binding file registers its exports with a static Registrar; addon.cpp runs them all at
// module init. Keeps addon.cpp free of knowledge about which bindings exist.
#pragma once
#include <napi.h>

#include <utility>
#include <vector>

namespace nq::addon {

using RegisterFn = void (*)(Napi::Env env, Napi::Object exports);

std::vector<std::pair<const char*, RegisterFn>>& registrations();

struct Registrar {
  Registrar(const char* name, RegisterFn fn) { registrations().emplace_back(name, fn); }
};

}  // namespace nq::addon
