#pragma once
#include "observe/observe.hpp"

namespace nimbus::app {

/// The version, commit and build type this binary was built from (generated at build time).
observe::BuildInfo build_info();

}  // namespace nimbus::app
